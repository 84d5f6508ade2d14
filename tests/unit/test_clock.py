"""services.clock: durations, changes and their checks, the offset as people read it, the
offset stored in a service's database, and production always on real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.clock import (
    ClockChange,
    clock,
    describe_offset,
    load_offset,
    move_clock,
    parse_duration,
    read_offset,
    utc_now,
)
from services.db import Database
from services.errors import Forbidden, InvalidRequest
from services.settings import Environment

REAL = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200),
        ("90m", 5400),
        ("1d 6h", 108_000),
        ("1d6h30m", 109_800),
        ("45s", 45),
        ("1w", 604_800),
        ("250ms", 0.25),
        ("3600", 3600),
        ("1.5h", 5400),
        (" 2H ", 7200),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "2x", "h", "2h and 3m", "-1h", "1h-", "nan"])
def test_what_is_not_a_duration_is_refused_with_the_forms_that_are(text: str) -> None:
    with pytest.raises(InvalidRequest, match="write it as 2h, 90m"):
        parse_duration(text)


def test_each_change_gives_its_offset() -> None:
    current = timedelta(hours=1)
    assert ClockChange(advance="2h").offset_from(current, real_now=REAL) == timedelta(hours=3)
    to = ClockChange(to=REAL + timedelta(days=1))
    assert to.offset_from(current, real_now=REAL) == timedelta(days=1)
    absolute = ClockChange(offsetSeconds=90)
    assert absolute.offset_from(current, real_now=REAL) == timedelta(seconds=90)
    assert ClockChange(reset=True).offset_from(current, real_now=REAL) == timedelta(0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"advance": "0s"}, "more than zero"),
        ({"to": REAL - timedelta(seconds=1)}, "before the real time"),
        ({"advance": "3651d"}, "at most 3650 days"),
        ({"advance": "1e20"}, "at most 3650 days"),
        ({"advance": "inf"}, "at most 3650 days"),
    ],
)
def test_a_change_that_would_run_behind_or_too_far_is_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        ClockChange.model_validate(change).offset_from(timedelta(0), real_now=REAL)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"advance": "1h", "reset": True},
        {"offsetSeconds": -1},
        {"offsetSeconds": 8.64e13},  # a timedelta that large does not exist: was a 500
        {"later": "1h"},
    ],
)
def test_a_change_is_exactly_one_known_valid_field(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClockChange.model_validate(change)


def test_offsets_read_as_people_say_them() -> None:
    assert describe_offset(0) == "real time"
    assert describe_offset(7200) == "+2h"
    assert describe_offset(93_784) == "+1d 2h 3m 4s"
    assert describe_offset(0.4) == "+0s"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'mid.sqlite3'}")
    database.upgrade("midsourcing:migrations")
    return database


def test_the_offset_is_stored_loaded_and_applied(db: Database) -> None:
    assert read_offset(db) == timedelta(0)
    move = move_clock(db, ClockChange(advance="2h"), environment=Environment.DEVELOPMENT)
    assert (move.before, move.after) == (timedelta(0), timedelta(hours=2))
    assert read_offset(db) == timedelta(hours=2)
    assert utc_now() - datetime.now(UTC) > timedelta(hours=1, minutes=59)
    clock.apply(timedelta(0))  # another process, or this one restarted
    assert load_offset(db, environment=Environment.DEVELOPMENT) is True
    assert clock.offset == timedelta(hours=2)
    assert load_offset(db, environment=Environment.DEVELOPMENT) is False  # unchanged


def test_production_runs_on_real_time_and_refuses_to_move(db: Database) -> None:
    move_clock(db, ClockChange(advance="1d"), environment=Environment.STAGE)
    assert load_offset(db, environment=Environment.PRODUCTION) is True
    assert clock.offset == timedelta(0)  # whatever a database used before says
    with pytest.raises(Forbidden, match="refused in production"):
        move_clock(db, ClockChange(advance="1h"), environment=Environment.PRODUCTION)
    assert read_offset(db) == timedelta(days=1)
