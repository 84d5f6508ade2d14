"""Dependencies of the balancer's own routes: its runtime and the admin token check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from load_balancer.proxy import Proxy
from load_balancer.settings import BalancerSettings
from load_balancer.shared import SharedState
from services.errors import AuthenticationFailed, NoBackendAvailable

__all__ = ["AdminDep", "Runtime", "RuntimeDep", "provide_runtime", "require_admin"]


@dataclass
class Runtime:
    """What one worker of a running balancer holds; filled by the app's lifespan."""

    settings: BalancerSettings
    shared: SharedState | None = None
    proxy: Proxy | None = None


def provide_runtime(request: Request) -> Runtime:
    """Return the running balancer's runtime (503 while it starts or stops)."""
    runtime: Runtime = request.app.state.lb
    if runtime.shared is None:
        raise NoBackendAvailable("the load balancer is starting or stopping")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(provide_runtime)]


def require_admin(request: Request, runtime: RuntimeDep) -> None:
    """Refuse the call unless it carries ``Authorization: Bearer <admin token>``."""
    expected = runtime.settings.admin_token
    if not expected:
        raise AuthenticationFailed(
            "the admin API is off",
            detail="set MCSIM_LB_ADMIN_TOKEN to manage backends at run time",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise AuthenticationFailed(
            "the admin API needs Authorization: Bearer <admin token>", field="Authorization"
        )


AdminDep = Annotated[None, Depends(require_admin)]
