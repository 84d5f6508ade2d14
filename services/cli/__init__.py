"""The ``mcsim`` command: start, supervise and inspect the whole stack."""
