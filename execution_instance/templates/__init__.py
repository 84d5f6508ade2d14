"""Templates published to this execution instance, and routing events to them."""
