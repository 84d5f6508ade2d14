"""The chaos audit's at-least-once windows (tests/support/chaos.py): which second copy of a
message a fault explains, and which is a duplicate."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.chaos import Window, _window_gap


@dataclass
class _Copy:
    received_at: float


class _Relay:
    def __init__(self, *times: float) -> None:
        self.times = times

    def messages_for(self, address: str) -> list[_Copy]:
        return [_Copy(t) for t in self.times]


#: mid-sourcing SIGKILLed at 100.0, its replacement started at 100.7.
KILL = Window(at=100.0, until=100.7)


@pytest.mark.parametrize(
    ("first", "last", "explained"),
    [
        (99.2, 116.0, True),  # taken before the kill, sent again by the new process
        (100.4, 116.0, True),  # taken after the kill was noted, before anyone else could send
        (100.9, 116.0, False),  # the first copy came when the new process already ran
        (90.0, 95.0, False),  # both copies before the kill: a duplicate of the old process
        (101.0, 102.0, False),  # both after the new process started
    ],
)
def test_a_second_copy_is_in_a_kill_window_only_if_the_first_came_before_the_replacement(
    first: float, last: float, explained: bool
) -> None:
    gap = _window_gap(_Relay(last, first), "a@example.com", [KILL])  # type: ignore[arg-type]
    assert (gap is not None) is explained
    if explained:
        assert gap == pytest.approx(first - KILL.at)


def test_the_nearest_window_is_reported() -> None:
    windows = [Window(95.0, 99.95), KILL]  # both explain it: the nearer fault is named
    gap = _window_gap(_Relay(99.9, 120.0), "a@example.com", windows)  # type: ignore[arg-type]
    assert gap == pytest.approx(-0.1)


def test_an_open_window_explains_nothing_yet() -> None:
    cut = Window(100.0, float("inf"))  # the relay link is still cut
    assert _window_gap(_Relay(99.0, 130.0), "a@example.com", [cut]) is None  # type: ignore[arg-type]
