"""Delivering messages: qualification, magic recipients, chaos, MIME, connectors and workers."""
