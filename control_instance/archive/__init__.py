"""Archiving: every instance's events and outcomes in one history (Campaign's NmsEventHisto)."""
