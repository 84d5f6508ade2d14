"""The database layer on SQLite and, when MCSIM_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import importlib
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from services.db import Database, DatabaseError
from tests.conftest import POSTGRES_URL, DatabaseTarget

SERVICES = ["execution_instance", "control_instance", "midsourcing"]


def open_db(target: DatabaseTarget) -> Database:
    return Database(target.url, schema=target.schema)


@pytest.mark.postgres
@pytest.mark.parametrize("package", SERVICES)
def test_upgrade_creates_the_service_tables_and_is_idempotent(
    database_target: DatabaseTarget, package: str
) -> None:
    db = open_db(database_target)
    try:
        first = db.upgrade(f"{package}:migrations")
        assert first
        assert db.current_revision() == first
        tables = inspect(db.engine).get_table_names(schema=db.schema)
        assert "service_meta" in tables
        assert "alembic_version" in tables
        # A second start on the same data is a no-op, not an error.
        assert db.upgrade(f"{package}:migrations") == first
    finally:
        db.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("package", SERVICES)
def test_migrations_build_exactly_the_tables_the_code_declares(
    database_target: DatabaseTarget, package: str
) -> None:
    """A table or column added to tables.py without a migration fails here."""
    metadata = importlib.import_module(f"{package}.tables").Base.metadata
    db = open_db(database_target)
    try:
        db.upgrade(f"{package}:migrations")
        with db.engine.connect() as connection:
            options = {"include_schemas": False}
            context = MigrationContext.configure(connection, opts=options)
            differences = compare_metadata(context, metadata)
        assert differences == []
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_database_from_a_newer_mcsim_is_refused_untouched(
    database_target: DatabaseTarget,
) -> None:
    db = open_db(database_target)
    try:
        db.upgrade("execution_instance:migrations")
        with db.transaction(write=True) as session:
            session.execute(text("UPDATE alembic_version SET version_num = 'zz999'"))
        with pytest.raises(DatabaseError, match="newer mcsim") as caught:
            db.upgrade("execution_instance:migrations")
        assert "zz999" in caught.value.message
        assert db.current_revision() == "zz999"
    finally:
        db.dispose()


@pytest.mark.postgres
def test_transactions_commit_on_success_and_roll_back_on_error(
    database_target: DatabaseTarget,
) -> None:
    db = open_db(database_target)
    try:
        db.upgrade("midsourcing:migrations")
        with db.transaction(write=True) as session:
            session.execute(text("INSERT INTO service_meta (key, value) VALUES ('a', '1')"))
        with pytest.raises(RuntimeError), db.transaction(write=True) as session:
            session.execute(text("INSERT INTO service_meta (key, value) VALUES ('b', '2')"))
            raise RuntimeError("use case failed")
        with db.transaction() as session:
            keys = session.execute(text("SELECT key FROM service_meta ORDER BY key")).scalars()
            assert list(keys) == ["a"]
    finally:
        db.dispose()


@pytest.mark.postgres
def test_ping_reports_a_reachable_database(database_target: DatabaseTarget) -> None:
    db = open_db(database_target)
    try:
        assert db.ping() is True
    finally:
        db.dispose()


def test_ping_reports_an_unreachable_postgres_without_raising() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/none")
    try:
        assert db.ping() is False
    finally:
        db.dispose()


def test_an_unreachable_database_fails_upgrade_with_a_clear_message() -> None:
    db = Database("postgresql://postgres:secret@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseError, match="cannot open the database") as caught:
            db.upgrade("control_instance:migrations")
        assert "secret" not in caught.value.message
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'deep' / 'folder' / 'x.sqlite3'}")
    try:
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert (tmp_path / "deep" / "folder" / "x.sqlite3").exists()
    finally:
        db.dispose()


def test_sqlite_writers_wait_for_each_other_instead_of_failing(tmp_path: Path) -> None:
    """Concurrent read-then-write transactions must serialize, not raise 'database is locked'."""
    db = Database(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    db.upgrade("execution_instance:migrations")
    with db.transaction(write=True) as session:
        session.execute(text("INSERT INTO service_meta (key, value) VALUES ('n', '0')"))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with db.transaction(write=True) as session:
                    value = session.execute(
                        text("SELECT value FROM service_meta WHERE key = 'n'")
                    ).scalar_one()
                    session.execute(
                        text("UPDATE service_meta SET value = :v WHERE key = 'n'"),
                        {"v": str(int(value) + 1)},
                    )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with db.transaction() as session:
            value = session.execute(text("SELECT value FROM service_meta WHERE key='n'"))
            assert value.scalar_one() == "100"
    finally:
        db.dispose()


def test_a_one_statement_sqlite_write_is_its_own_atomic_transaction(tmp_path: Path) -> None:
    """The event writer's fast path: committed at once, or not at all, in one statement."""
    path = tmp_path / "one.sqlite3"
    db, other = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}")
    db.upgrade("execution_instance:migrations")
    insert = "INSERT INTO service_meta (key, value) VALUES (?, ?), (?, ?)"
    try:
        with db.sqlite_write(one_statement=True) as connection:
            connection.execute(insert, ("a", "1", "b", "2"))
            assert not connection.in_transaction  # the statement committed itself
        with other.engine.connect() as connection:  # another connection sees it: committed
            keys = connection.exec_driver_sql("SELECT key FROM service_meta ORDER BY key")
            assert keys.scalars().all() == ["a", "b"]
        with pytest.raises(IntegrityError), db.sqlite_write(one_statement=True) as connection:
            connection.execute(insert, ("c", "3", "a", "again"))  # the second row is a duplicate
        with other.engine.connect() as connection:
            keys = connection.exec_driver_sql("SELECT key FROM service_meta ORDER BY key")
            assert keys.scalars().all() == ["a", "b"]  # nothing of the failed statement
    finally:
        db.dispose()
        other.dispose()


def test_a_non_durable_write_commits_without_changing_the_connections_durability(
    tmp_path: Path,
) -> None:
    """The workers' transactions skip the fsync; the pooled connection goes back to FULL."""
    db = Database(f"sqlite:///{tmp_path / 'n.sqlite3'}")
    db.upgrade("execution_instance:migrations")
    try:
        with db.write_connection(durable=False) as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            connection.exec_driver_sql("INSERT INTO service_meta (key, value) VALUES ('k', 'v')")
        with pytest.raises(RuntimeError), db.write_connection(durable=False) as connection:
            connection.exec_driver_sql("INSERT INTO service_meta (key, value) VALUES ('x', 'y')")
            raise RuntimeError("rolled back")
        with db.write_connection() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            keys = connection.exec_driver_sql("SELECT key FROM service_meta").scalars().all()
        assert keys == ["k"]
    finally:
        db.dispose()


def test_schema_names_are_validated() -> None:
    with pytest.raises(DatabaseError, match="invalid database schema name"):
        Database("postgresql://postgres@127.0.0.1/test", schema='x"; DROP TABLE y; --')


def test_postgres_urls_use_psycopg_3() -> None:
    db = Database("postgresql://postgres@127.0.0.1:5432/test", schema="abc")
    try:
        assert db.url.drivername == "postgresql+psycopg"
        assert db.schema == "abc"
        assert "abc" in db.describe()
    finally:
        db.dispose()


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs MCSIM_TEST_POSTGRES_URL")
def test_services_in_separate_schemas_do_not_see_each_other(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    a = Database(POSTGRES_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
    b = Database(POSTGRES_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
    try:
        a.upgrade("execution_instance:migrations")
        b.upgrade("execution_instance:migrations")
        with a.transaction(write=True) as session:
            session.execute(text("INSERT INTO service_meta (key, value) VALUES ('only', 'a')"))
        with b.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM service_meta")).scalar_one() == 0
    finally:
        for db in (a, b):
            with db.engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))
            db.dispose()


def _write_migrations(folder: Path, revisions: list[tuple[str, str | None, str]]) -> str:
    """Write an Alembic folder whose revisions each run one SQL statement."""
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(
        "from sqlalchemy import MetaData\n"
        "from services.migrations_env import run_migrations\n"
        "run_migrations(MetaData())\n"
    )
    for revision, down, sql in revisions:
        (folder / "versions" / f"{revision}.py").write_text(
            textwrap.dedent(
                f"""
                from alembic import op
                revision = {revision!r}
                down_revision = {down!r}
                branch_labels = None
                depends_on = None
                def upgrade():
                    op.execute({sql!r})
                """
            )
        )
    return str(folder)


@pytest.mark.postgres
def test_a_newer_mcsim_upgrades_an_older_data_directory_keeping_its_data(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    first = ("r1", None, "CREATE TABLE thing (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    second = ("r2", "r1", "ALTER TABLE thing ADD COLUMN colour VARCHAR(20) DEFAULT 'blue'")
    old = _write_migrations(tmp_path / "old", [first])
    new = _write_migrations(tmp_path / "new", [first, second])
    db = open_db(database_target)
    try:
        assert db.upgrade(old) == "r1"
        with db.transaction(write=True) as session:
            session.execute(text("INSERT INTO thing (id, name) VALUES (1, 'kept')"))
        assert db.upgrade(new) == "r2"
        with db.transaction() as session:
            row = session.execute(text("SELECT name, colour FROM thing")).one()
        assert tuple(row) == ("kept", "blue")
    finally:
        db.dispose()


@pytest.fixture
def migrating_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upgrades run as a service's process runs them: in a short-lived child process."""
    monkeypatch.setattr(Database, "migrate_apart", True)


@pytest.mark.postgres
def test_a_service_process_migrates_in_a_child_with_the_same_outcome(
    database_target: DatabaseTarget, migrating_apart: None
) -> None:
    db = open_db(database_target)
    try:
        revision = db.upgrade("execution_instance:migrations")
        assert revision and db.current_revision() == revision
        assert "service_meta" in inspect(db.engine).get_table_names(schema=db.schema)
        assert db.upgrade("execution_instance:migrations") == revision
        # a refusal in the child reaches the caller with its words
        with db.transaction(write=True) as session:
            session.execute(text("UPDATE alembic_version SET version_num = 'zz999'"))
        with pytest.raises(DatabaseError, match="written by a newer mcsim") as caught:
            db.upgrade("execution_instance:migrations")
        assert "zz999" in caught.value.message and caught.value.detail
        assert db.current_revision() == "zz999"
    finally:
        db.dispose()


def test_an_unreachable_server_is_found_before_the_child_runs(migrating_apart: None) -> None:
    """The caller waits for PostgreSQL on the driver's error, as around an upgrade here."""
    from sqlalchemy.exc import OperationalError

    db = Database("postgresql://nobody@127.0.0.1:9/none")  # the discard port: refused
    try:
        with pytest.raises(DatabaseError, match="cannot open the database") as caught:
            db.upgrade("execution_instance:migrations")
        assert isinstance(caught.value.__cause__, OperationalError)
    finally:
        db.dispose()


def test_the_service_processes_never_import_alembic() -> None:
    """Alembic and Mako (about 10 MiB) are for the migration's child process only."""
    import subprocess
    import sys

    probe = (
        "import sys, control_instance.app, midsourcing.app, execution_instance.server, "
        "services.runner; print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
