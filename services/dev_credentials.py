"""The development credentials of the stack, one per purpose (DESIGN §6.2, security review F3).

Each credential opens one thing only, so that handing one out (a website gets the technical
token, say) never hands out another: a website's token is not the balancer's admin token, and
no intake credential opens an execution instance's control plane (``/_mc/``). Every one of them
is refused when the environment is ``production``; the README's Security section lists them.
"""

from __future__ import annotations

__all__ = [
    "ADMIN",
    "CONTROL_PLANE",
    "IMS_CLIENT",
    "LB_ADMIN_TOKEN",
    "MIDSOURCING_OPERATOR",
    "OPERATOR",
    "TECHNICAL_TOKEN",
]

#: Execution operator for the intake (SOAP ``login/password``, Logon).
OPERATOR = ("mc", "mc")
#: Bearer technical token for the intake (SOAP and REST), the one a website is given.
TECHNICAL_TOKEN = "mcsim-dev-token"  # noqa: S105 - documented development token
#: The control instance's account on the execution instances' control plane (``/_mc/``).
CONTROL_PLANE = ("mccontrol", "mcsim-dev-control")
#: Bearer token of the load balancer's admin API (``POST``/``DELETE /_lb/backends``).
LB_ADMIN_TOKEN = "mcsim-dev-lb-admin"  # noqa: S105 - documented development token
#: Operator of the mid-sourcing server (execution instances hand messages over with it).
MIDSOURCING_OPERATOR = ("mid", "mid")
#: Operator of the control console and API.
ADMIN = ("admin", "admin")
#: Client id and secret of the demo workspace's technical account (Adobe IMS emulation): the
#: integration exchanges them at the control instance's ``POST /ims/token/v3``.
IMS_CLIENT = ("mcsim-dev-client", "p8e-mcsim-dev-client-secret")
