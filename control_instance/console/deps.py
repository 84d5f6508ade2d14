"""Who is using the console: the session cookie, its CSRF token, and the operator's role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service as auth
from control_instance.auth.roles import Principal, Role
from control_instance.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, StateDep
from services.errors import AuthenticationFailed, Forbidden
from services.ui import csrf_token_sent

__all__ = ["AdminUser", "ConsoleUser", "EditorUser", "LoginRequired", "User", "ViewerUser"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(AuthenticationFailed):
    """The console needs a session: the browser is sent to the login page."""


@dataclass(frozen=True)
class User:
    """The operator using the console, with the CSRF token its pages must send back."""

    principal: Principal
    csrf_token: str

    @property
    def login(self) -> str:
        """Return the operator's login."""
        return self.principal.login

    @property
    def role(self) -> Role:
        """Return the operator's role."""
        return self.principal.role

    def can(self, role: str) -> bool:
        """Return whether the operator has ``role`` (viewer, editor, admin) or a higher one."""
        return self.principal.role.allows(Role(role))


async def provide_user(request: Request, state: StateDep) -> User:
    """Authenticate the console session; changes must carry its CSRF token (header or field)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired("log in to use the console")
    try:
        principal = await run_in_threadpool(
            lambda: auth.authenticate(db=state.db, token=token, kind="session")
        )
    except AuthenticationFailed as exc:
        raise LoginRequired(exc.message) from exc
    if request.method not in _SAFE_METHODS:
        sent = await csrf_token_sent(request, CSRF_HEADER)
        await run_in_threadpool(
            lambda: auth.check_csrf(db=state.db, principal=principal, csrf_token=sent)
        )
    user = User(principal=principal, csrf_token=request.cookies.get(CSRF_COOKIE, ""))
    request.state.console_user = user  # for an error page of this request (rendering.html_errors)
    return user


ConsoleUser = Annotated[User, Depends(provide_user)]


def _require(role: Role) -> Callable[[User], Awaitable[User]]:
    async def check(user: ConsoleUser) -> User:
        if not user.role.allows(role):
            raise Forbidden(f"this needs the {role.value} role; {user.login} is {user.role.value}")
        return user

    return check


ViewerUser = Annotated[User, Depends(_require(Role.VIEWER))]
EditorUser = Annotated[User, Depends(_require(Role.EDITOR))]
AdminUser = Annotated[User, Depends(_require(Role.ADMIN))]
