"""Quarantine: addresses with delivery errors, when they stop being sent to, and their release."""
