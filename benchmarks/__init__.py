"""Benchmarks of mcsim, run as scripts (see RESULTS.md for commands and results)."""
