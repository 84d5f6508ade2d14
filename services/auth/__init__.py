"""Authentication shared by the services: passwords, tokens, zones, throttling, and the chain.

``security.OperatorSecurity`` is the chain the SOAP services (execution instance, mid-sourcing
server) share: zones, ``login/password``, session tokens, Logon and Logoff; ``session_rows`` holds
the queries on their ``session_tokens`` tables.
"""
