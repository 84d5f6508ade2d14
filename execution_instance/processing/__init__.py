"""Event processing: claim, route, render, hand over to mid-sourcing, and sync statuses."""
