"""Captured messages: what mid-sourcing delivered (or tried to), searchable, with retention."""
