"""Reset between tests: forget the instance's events, keep its configuration."""
