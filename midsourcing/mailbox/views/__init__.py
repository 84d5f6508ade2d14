"""The mailbox's pages, one module per section."""
