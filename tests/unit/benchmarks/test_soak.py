"""The soak's verdict: growth that levels off against growth that does not."""

from __future__ import annotations

import statistics

import pytest

from benchmarks.soak import STACK, cpu_per_event, judge
from benchmarks.stack import WALL

MINUTES = [float(m) for m in range(30)]


def test_growth_that_keeps_on_is_still_growing() -> None:
    values = [100 + 2 * m for m in MINUTES]  # 2 MiB a minute, to the end
    verdict = judge(MINUTES, values, floor=2.0)
    assert verdict.verdict == "still growing"
    assert verdict.slope_first == verdict.slope_last == 2.0


def test_a_warm_up_that_stops_has_levelled_off() -> None:
    values = [100 + min(m, 15) * 5 for m in MINUTES]  # grows for 15 minutes, then holds
    verdict = judge(MINUTES, values, floor=2.0)
    assert verdict.verdict == "levelled off"
    assert verdict.slope_last == 0.0
    # a warm-up over before the middle third: the thirds agree
    early = [100 + min(m, 8) * 5 for m in MINUTES]
    assert judge(MINUTES, early, floor=2.0).verdict == "flat"


def test_noise_within_the_tolerance_is_flat() -> None:
    values = [100 + (m % 3) for m in MINUTES]  # 0-2 up and down around 100
    assert judge(MINUTES, values, floor=2.0).verdict == "flat"


def test_the_tolerance_is_a_fraction_of_the_middle_third_at_least_the_floor() -> None:
    # the last third is 4 % above the middle one: within 5 % of 1,000
    values = [1000.0] * 20 + [1040.0] * 10
    verdict = judge(MINUTES, values, floor=2.0)
    assert verdict.tolerance == 50.0
    assert verdict.verdict != "still growing"
    assert judge(MINUTES, values, floor=2.0, fraction=0.01).verdict == "still growing"


def test_a_spike_is_judged_by_the_median_when_asked() -> None:
    values = [10.0] * 29 + [500.0]  # one spike in the last sample of a queue
    assert judge(MINUTES, values, floor=20.0).verdict == "still growing"
    assert judge(MINUTES, values, floor=20.0, statistic=statistics.median).verdict == "flat"


def test_missing_samples_are_left_out_and_a_short_series_is_not_judged() -> None:
    nan = float("nan")
    assert judge(MINUTES[:5], [1.0, 2.0, 3.0, 4.0, 5.0], floor=1.0).verdict == "too short"
    values = [nan] * 24 + [1.0] * 6
    assert judge(MINUTES, values, floor=1.0).verdict == "flat"


def test_cpu_per_event_is_per_service_and_for_the_stack_without_the_load_generator() -> None:
    before = {"control": 1.0, "midsourcing": 2.0, "supervisor": 0.5, "load generator": 9.0}
    after = {"control": 1.2, "midsourcing": 2.5, "supervisor": 0.5, "load generator": 19.0}
    per_event = cpu_per_event({**before, WALL: 0.0}, {**after, WALL: 10.0}, 100)
    assert per_event == pytest.approx(
        {"control": 2.0, "midsourcing": 5.0, "supervisor": 0.0, STACK: 7.0}
    )
    # a process that appeared meanwhile (a restart) counts from its first reading on
    assert cpu_per_event({WALL: 0.0}, {"control": 3.0, WALL: 1.0}, 10)["control"] == 0.0
