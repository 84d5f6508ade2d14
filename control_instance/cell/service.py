"""Use cases of cell operators and technical tokens: stored encrypted, pushed everywhere."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceClient
from control_instance.accounts.service import Target, list_targets
from control_instance.cell.schemas import (
    CellOperatorChange,
    CellOperatorCreate,
    CellOperatorPublic,
    CellOperatorUpdate,
    TechnicalTokenChange,
    TechnicalTokenCreate,
    TechnicalTokenPublic,
)
from control_instance.fanout import Action, InstanceOutcome, fan_out
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.state import ControlState
from control_instance.tables import CellOperator, Removal, TechnicalToken
from services.auth.tokens import token_digest
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = [
    "OPERATOR_PURPOSE",
    "TOKEN_PURPOSE",
    "create_cell_operator",
    "create_technical_token",
    "delete_cell_operator",
    "delete_technical_token",
    "list_cell_operators",
    "list_technical_tokens",
    "update_cell_operator",
]

OPERATOR_PURPOSE = "cell-operator-password"
TOKEN_PURPOSE = "technical-token"  # noqa: S105 - a label, not a token


def _token_hint(token: str) -> str:
    """Return the start of a token shown to recognise it: a quarter of it, 10 characters at most.

    A generated token (``mcsim-`` and 43 random characters) keeps ``mcsim-`` and 4 of them; a
    caller-chosen one of 16 characters keeps 4 (the review found 10 of 24 kept in clear).
    """
    return token[: min(10, len(token) // 4)]


def _operator(row: CellOperator) -> CellOperatorPublic:
    return CellOperatorPublic(
        id=row.id,
        login=row.login,
        label=row.label,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _token(row: TechnicalToken) -> TechnicalTokenPublic:
    return TechnicalTokenPublic(
        id=row.id, label=row.label, login=row.login, hint=row.hint, created_at=row.created_at
    )


async def _everywhere(state: ControlState, action: Action) -> list[InstanceOutcome]:
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    return await fan_out(state, targets, action)


def list_cell_operators(*, db: Database, page: PageParams) -> Page[CellOperatorPublic]:
    """Return a page of cell operators, by login."""
    with db.transaction() as session:
        rows, total = fetch_page(session, select(CellOperator).order_by(CellOperator.login), page)
        items = [_operator(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def _get_operator(session: Session, operator_id: int) -> CellOperator:
    row = session.get(CellOperator, operator_id)
    if row is None:
        raise NotFound(f"no cell operator {operator_id}")
    return row


async def _push_operator(
    state: ControlState, public: CellOperatorPublic, password: str
) -> CellOperatorChange:
    async def put(client: InstanceClient, _target: Target) -> None:
        await client.put_operator(public.login, password)

    outcomes = await _everywhere(state, put)
    return CellOperatorChange(
        operator=public, complete=all(o.ok for o in outcomes), instances=outcomes
    )


async def create_cell_operator(
    *, state: ControlState, new: CellOperatorCreate
) -> CellOperatorChange:
    """Create a cell operator and push it to every enabled execution instance."""

    def create() -> CellOperatorPublic:
        now = utc_now()
        row = CellOperator(
            login=new.login,
            label=new.label,
            password_secret=state.box.seal(new.password, purpose=OPERATOR_PURPOSE),
            created_at=now,
            updated_at=now,
        )
        try:
            with state.db.transaction(write=True) as session:
                session.execute(
                    delete(Removal).where(Removal.kind == "operator", Removal.key == new.login)
                )
                session.add(row)
        except IntegrityError:
            raise Conflict(f"a cell operator {new.login!r} exists already", field="login") from None
        return _operator(row)

    return await _push_operator(state, await run_in_threadpool(create), new.password)


async def update_cell_operator(
    *, state: ControlState, operator_id: int, changes: CellOperatorUpdate
) -> CellOperatorChange:
    """Change a cell operator's label or password, and push it again."""

    def update() -> tuple[CellOperatorPublic, str]:
        with state.db.transaction(write=True) as session:
            row = _get_operator(session, operator_id)
            if changes.label is not None:
                row.label = changes.label
            if changes.password is not None:
                row.password_secret = state.box.seal(changes.password, purpose=OPERATOR_PURPOSE)
            row.updated_at = utc_now()
            password = state.box.open(row.password_secret, purpose=OPERATOR_PURPOSE)
            return _operator(row), password

    public, password = await run_in_threadpool(update)
    return await _push_operator(state, public, password)


async def delete_cell_operator(*, state: ControlState, operator_id: int) -> CellOperatorChange:
    """Delete a cell operator here and on every enabled execution instance."""

    def remove() -> str:
        with state.db.transaction(write=True) as session:
            row = _get_operator(session, operator_id)
            session.add(Removal(kind="operator", key=row.login, removed_at=utc_now()))
            session.delete(row)
            return row.login

    login = await run_in_threadpool(remove)

    async def drop(client: InstanceClient, _target: Target) -> None:
        await client.delete_operator(login)

    outcomes = await _everywhere(state, drop)
    return CellOperatorChange(
        operator=None, complete=all(o.ok for o in outcomes), instances=outcomes
    )


def list_technical_tokens(*, db: Database, page: PageParams) -> Page[TechnicalTokenPublic]:
    """Return a page of technical tokens, newest first."""
    with db.transaction() as session:
        statement = select(TechnicalToken).order_by(TechnicalToken.id.desc())
        rows, total = fetch_page(session, statement, page)
        items = [_token(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


async def create_technical_token(
    *, state: ControlState, new: TechnicalTokenCreate
) -> TechnicalTokenChange:
    """Create a technical token (generated unless given) and push it everywhere."""
    token = new.token or "mcsim-" + secrets.token_urlsafe(32)

    def create() -> TechnicalTokenPublic:
        row = TechnicalToken(
            label=new.label,
            login=new.login,
            token_secret=state.box.seal(token, purpose=TOKEN_PURPOSE),
            digest=token_digest(token),
            hint=_token_hint(token),
            created_at=utc_now(),
        )
        try:
            with state.db.transaction(write=True) as session:
                session.execute(
                    delete(Removal).where(
                        Removal.kind == "token", Removal.key == token_digest(token)
                    )
                )
                session.add(row)
        except IntegrityError:
            raise Conflict("this technical token exists already", field="token") from None
        return _token(row)

    public = await run_in_threadpool(create)

    async def add(client: InstanceClient, _target: Target) -> None:
        await client.add_token(token, label=new.label, login=new.login)

    outcomes = await _everywhere(state, add)
    return TechnicalTokenChange(
        technical_token=public,
        token=token,
        complete=all(o.ok for o in outcomes),
        instances=outcomes,
    )


async def delete_technical_token(*, state: ControlState, token_id: int) -> TechnicalTokenChange:
    """Revoke a technical token here and on every enabled execution instance."""

    def remove() -> str:
        with state.db.transaction(write=True) as session:
            row = session.get(TechnicalToken, token_id)
            if row is None:
                raise NotFound(f"no technical token {token_id}")
            session.add(
                Removal(
                    kind="token",
                    key=row.digest,
                    secret=row.token_secret,
                    removed_at=utc_now(),
                )
            )
            session.delete(row)
            return state.box.open(row.token_secret, purpose=TOKEN_PURPOSE)

    token = await run_in_threadpool(remove)

    async def revoke(client: InstanceClient, _target: Target) -> None:
        await client.revoke_token(token)

    outcomes = await _everywhere(state, revoke)
    return TechnicalTokenChange(
        technical_token=None, complete=all(o.ok for o in outcomes), instances=outcomes
    )
