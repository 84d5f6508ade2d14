"""Packages: configuration moved between environments as Campaign-style XML (DESIGN §7)."""
