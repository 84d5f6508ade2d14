"""The virtual clock of the whole cell (issue 16)."""
