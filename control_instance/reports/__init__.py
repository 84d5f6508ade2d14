"""Reports on the archived events (campaign-facts §4.7): history, service level, processing time."""
