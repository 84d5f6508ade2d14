"""Reset between tests: forget messages, delivery logs, quarantine and chaos."""
