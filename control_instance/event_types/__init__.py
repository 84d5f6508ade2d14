"""Event types: created on the control instance, published to every execution instance."""
