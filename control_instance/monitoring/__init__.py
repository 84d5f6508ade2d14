"""Monitoring of the execution instances and the load balancer, against Campaign's thresholds."""
