"""Delivery logs: what happened to each message, read back with a cursor (GetDeliveryLogs)."""
