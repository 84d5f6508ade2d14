"""Execution instances as external accounts, and the client of their ``/_mc/`` API."""
