"""A pre-forked child that keeps dying is started again ever more slowly, not in a tight loop."""

from __future__ import annotations

from services.prefork import RESTART_DELAY, RESTART_DELAY_MAX, STABLE_AFTER, next_restart_delay


def test_quick_deaths_double_the_delay_up_to_the_cap() -> None:
    delay = next_restart_delay(None, 0.1)
    assert delay == RESTART_DELAY
    seen = [delay]
    for _ in range(8):
        delay = next_restart_delay(delay, 0.5)
        seen.append(delay)
    assert seen[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(seen) == RESTART_DELAY_MAX


def test_a_child_that_ran_a_while_starts_over_at_the_first_delay() -> None:
    assert next_restart_delay(RESTART_DELAY_MAX, STABLE_AFTER + 1) == RESTART_DELAY
