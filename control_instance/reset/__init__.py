"""Reset between tests: the whole cell's events, messages, history, quarantine and chaos."""
