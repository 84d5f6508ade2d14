"""Who may call this execution instance: operators, sessions, technical tokens, zones."""
