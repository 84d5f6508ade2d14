"""Authentication building blocks shared by the services: passwords, tokens, zones, throttling."""
