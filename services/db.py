"""Database layer: engines, session factories and Alembic migrations for every service.

SQLite (the embedded default) runs in WAL mode with a busy timeout; transactions that write
can ask for ``BEGIN IMMEDIATE`` so that two writers never deadlock on a lock upgrade.
PostgreSQL runs through psycopg 3; a service may keep its tables in its own schema so that
several services share one database.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from services.errors import McsimError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "NAMING_CONVENTION",
    "BindConverter",
    "Database",
    "DatabaseError",
    "UtcDateTime",
    "make_metadata",
    "normalize_url",
    "service_meta_table",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


class DatabaseError(McsimError):
    """The database cannot be opened or does not match this version of mcsim."""

    status_code = 503
    error = "database_unavailable"


def normalize_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pointed at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class _WriteTurn:
    """Whose turn it is to write a SQLite database: a thread of this process, then a process.

    Threads of a process queue on a lock; processes sharing the file (the processes of an
    execution instance) on an ``flock`` of a lock file beside it, which wakes the next writer as
    soon as the lock is released. Without it, SQLite's busy handler would have a waiting writer
    sleep up to 100 ms between tries. The file is opened once per process (an inherited
    descriptor would share the lock with the parent).
    """

    def __init__(self, database: str) -> None:
        in_memory = database in {"", ":memory:"} or database.startswith("file::memory:")
        self._path = None if in_memory else f"{database}-writelock"
        self._threads = threading.Lock()
        self._fd = -1
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close this process's lock file (it is opened again by the next write)."""
        with self._threads:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
            self._fd, self._pid = -1, 0


class Database:
    """One service's database: an engine, session factories and its migrations."""

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10) -> None:
        self.url = make_url(normalize_url(url))
        self.schema = schema if self.is_postgres else None
        if self.schema is not None and not _SCHEMA_NAME.match(self.schema):
            raise DatabaseError(
                f"invalid database schema name {self.schema!r}",
                detail="use lower-case letters, digits and underscores",
            )
        self.engine = self._create_engine(pool_size)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        writer = self._writer = self.engine.execution_options(mcsim_begin="IMMEDIATE")
        self._write_turn: AbstractContextManager[object] = (
            _WriteTurn(self.url.database or "") if self.is_sqlite else nullcontext()
        )
        self._write_sessions = sessionmaker(bind=writer, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Return whether this database is SQLite."""
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        """Return whether this database is PostgreSQL."""
        return self.url.get_backend_name() == "postgresql"

    def describe(self) -> str:
        """Return the URL without its password, for logs and messages."""
        shown = self.url.render_as_string(hide_password=True)
        return f"{shown} (schema {self.schema})" if self.schema else shown

    def _create_engine(self, pool_size: int) -> Engine:
        if self.is_sqlite:
            return self._create_sqlite_engine()
        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if self.schema:
            connect_args["options"] = f"-csearch_path={self.schema}"
        return create_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args=connect_args,
        )

    def _create_sqlite_engine(self) -> Engine:
        database = self.url.database or ""
        in_memory = database in {"", ":memory:"} or database.startswith("file::memory:")
        if not in_memory:
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
            **({"poolclass": StaticPool} if in_memory else {"pool_use_lifo": True}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            # FULL: a commit is on disk (WAL fsynced) before an event is acknowledged.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get("mcsim_begin", "DEFERRED")
            # Straight to the driver: SQLAlchemy's statement machinery cost ~30 µs a transaction.
            connection.connection.driver_connection.execute(_BEGIN[mode])  # type: ignore[union-attr]

        return engine

    def session(self) -> Session:
        """Return a new session; use it as ``with db.session() as s, s.begin(): …``."""
        return self._sessions()

    def write_session(self) -> Session:
        """Return a session whose transaction takes the write lock at once (SQLite)."""
        return self._write_sessions()

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """Yield a session inside one transaction that commits on success.

        On SQLite, writers take turns first (:class:`_WriteTurn`: the threads of this process,
        then the processes sharing the file): SQLite's own busy handler sleeps up to 100 ms
        between tries, which would stall a busy queue.
        """
        if not write:
            with self.session() as session, session.begin():
                yield session
            return
        with self._write_turn, self.write_session() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self, *, durable: bool = True) -> Iterator[Connection]:
        """Yield a Core connection inside one write transaction that commits on success.

        What :meth:`transaction` does for writers, without an ORM session (about half the
        overhead of a transaction), for hot paths that only run Core statements.

        ``durable=False`` (SQLite): the commit does not wait for an fsync (``synchronous=NORMAL``
        for this transaction). It is atomic and survives the process being killed; only an
        operating-system crash or a power cut can take it back, and the next durable commit
        (the WAL is written in order) makes it durable too. For state that can be redone, so
        that it does not hold the write lock through an fsync.
        """
        with self._write_turn:
            if durable or not self.is_sqlite:
                with self._writer.begin() as connection:
                    yield connection
                return
            with self._writer.connect() as connection:
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA synchronous=NORMAL")
                try:
                    with connection.begin():
                        yield connection
                finally:
                    driver.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def sqlite_write(self, *, one_statement: bool = False) -> Iterator[sqlite3.Connection]:
        """Yield a raw sqlite3 connection inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (SQLite only).

        For a hot writer that cannot afford an ORM session: no session, no SQLAlchemy
        transaction, three statements in all. The process's write turn is held as in
        :meth:`transaction`; driver errors are raised as SQLAlchemy's exception types
        (``IntegrityError`` and so on), as through a session.

        ``one_statement``: the caller runs a single statement, which is its own transaction
        (SQLite takes the write lock, runs it and commits, fsync included, in one step). The
        sqlite3 module releases the GIL around each step; getting it back from a busy event
        loop's thread can take a whole switch interval, so one step instead of three shortens
        the commit cycle of a thread that writes while requests are being served.
        """
        if not self.is_sqlite:
            raise TypeError("sqlite_write() is for SQLite databases")
        with self._write_turn:
            connection = self.engine.raw_connection()
            try:
                driver = connection.driver_connection
                if not isinstance(driver, sqlite3.Connection):
                    raise TypeError(f"not a sqlite3 connection: {driver!r}")
                try:
                    if one_statement:
                        yield driver
                        return
                    driver.execute("BEGIN IMMEDIATE")
                    yield driver
                    driver.execute("COMMIT")
                except sqlite3.Error as exc:
                    if driver.in_transaction:
                        driver.execute("ROLLBACK")
                    raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
                except BaseException:
                    if driver.in_transaction:
                        driver.execute("ROLLBACK")
                    raise
            finally:
                connection.close()  # back to the pool

    def ping(self) -> bool:
        """Return whether the database answers a round trip."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # any driver error means "unreachable"
            return False
        return True

    def ensure_schema(self) -> None:
        """Create this service's PostgreSQL schema when it is missing."""
        if not self.schema:
            return
        bare = create_engine(self.url, connect_args={"connect_timeout": 5})
        try:
            with bare.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        finally:
            bare.dispose()

    #: Set for a service's own process (:func:`services.runner.run_service`): :meth:`upgrade`
    #: runs Alembic in a short-lived child process, so that the long-lived one never imports
    #: Alembic and Mako (about 10 MiB in each process for code that runs once).
    migrate_apart: ClassVar[bool] = False

    def upgrade(self, migrations: str) -> str:
        """Bring the database to the newest revision of ``migrations`` and return it.

        ``migrations`` is a package path such as ``"execution_instance:migrations"``. A
        database written by a newer mcsim (an unknown revision) is refused, untouched.
        """
        if Database.migrate_apart:
            return self._upgrade_apart(migrations)
        return self.upgrade_here(migrations)

    def _upgrade_apart(self, migrations: str) -> str:
        # The server unreachable is found here, with its driver error, so that the caller
        # waits for it as it would around an upgrade in this process.
        self._reach()
        request = {
            "url": self.url.render_as_string(hide_password=False),
            "schema": self.schema,
            "migrations": migrations,
        }
        done = subprocess.run(
            [sys.executable, "-m", "services.migrate"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        try:
            answer: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        except ValueError:
            answer = {}
        if done.returncode == 0 and "revision" in answer:
            return str(answer["revision"])
        self._reach()  # the server went away meanwhile: waited for like any unreachable one
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DatabaseError(
            answer.get("message") or f"cannot migrate the database {self.describe()}: {last}",
            detail=answer.get("detail") or f"the migration process ended with {done.returncode}",
        )

    def _reach(self) -> None:
        try:
            self.ensure_schema()
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise DatabaseError(
                f"cannot open the database {self.describe()}: {exc}",
                detail=type(exc).__name__,
            ) from exc

    def upgrade_here(self, migrations: str) -> str:
        """Run :meth:`upgrade` in this process (what ``python -m services.migrate`` does)."""
        from alembic import command
        from alembic.script import ScriptDirectory

        try:
            self.ensure_schema()
            config = self._alembic_config(migrations)
            script = ScriptDirectory.from_config(config)
            with self.engine.begin() as connection:
                if self.is_postgres:
                    # Replicas sharing one database must not migrate it at the same time.
                    connection.execute(text("SELECT pg_advisory_xact_lock(74382001)"))
                current = self._current_revision(connection)
                if current is not None and current not in {
                    rev.revision for rev in script.walk_revisions()
                }:
                    raise DatabaseError(
                        f"the database {self.describe()} was written by a newer mcsim "
                        f"(revision {current})",
                        detail="upgrade mcsim, or point it at another data directory",
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                head = self._current_revision(connection)
        except DatabaseError:
            raise
        except Exception as exc:
            raise DatabaseError(
                f"cannot open the database {self.describe()}: {exc}",
                detail=type(exc).__name__,
            ) from exc
        return head or ""

    def current_revision(self) -> str | None:
        """Return the Alembic revision the database is at, or None when it is empty."""
        with self.engine.connect() as connection:
            return self._current_revision(connection)

    def _current_revision(self, connection: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        options = {"version_table_schema": self.schema} if self.schema else {}
        context = MigrationContext.configure(connection, opts=options)
        return context.get_current_revision()

    def _alembic_config(self, migrations: str) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", migrations)
        config.attributes["schema"] = self.schema
        return config

    def dispose(self) -> None:
        """Close every pooled connection (and the write turn's lock file)."""
        self.engine.dispose()
        if isinstance(self._write_turn, _WriteTurn):
            self._write_turn.close()


class BindConverter:
    """Values for a driver-level statement, converted as SQLAlchemy would convert them.

    Hot paths that bypass SQLAlchemy's statement machinery (the event writer, the mid-sourcing
    queue, the execution workers' executemany) still store exactly what a session stores: each
    value goes through its column's own bind processor (on SQLite, the datetimes).
    """

    def __init__(self, columns: Sequence[Column[Any]], dialect: Dialect) -> None:
        self._convert = [
            (index, processor)
            for index, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).bind_processor(dialect))
        ]

    def convert(self, values: list[Any], memo: dict[Any, Any] | None = None) -> list[Any]:
        """Convert ``values`` (in column order) in place and return them.

        ``memo`` keeps conversions across the rows of one statement (rows often share a time).
        """
        for index, processor in self._convert:
            given = values[index]
            if given is None:
                continue
            if memo is None:
                values[index] = processor(given)
                continue
            key = (index, given)
            done = memo.get(key)
            if done is None:
                done = memo[key] = processor(given)
            values[index] = done
        return values


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone: add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware datetimes as UTC; refuse naive ones, whose zone is unknown."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_metadata() -> MetaData:
    """Return a MetaData with mcsim's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def service_meta_table(metadata: MetaData) -> Table:
    """Define ``service_meta``: key/value facts every service keeps about itself."""
    return Table(
        "service_meta",
        metadata,
        Column("key", String(64), primary_key=True),
        Column("value", String(1024), nullable=False),
        Column("updated_at", DateTime(timezone=True), server_default=func.now()),
    )
