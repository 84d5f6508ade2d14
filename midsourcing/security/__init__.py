"""Who may call the mid-sourcing server: operators, Logon sessions and security zones."""
