"""What the processes of an execution instance share: layout, generation, process table, wake-up."""

from __future__ import annotations

import asyncio
import os

import pytest

from execution_instance.processes import ProcessLayout, SharedMemory, Wakeup


@pytest.mark.parametrize(
    ("cores", "web", "processing", "expected"),
    [
        (1, None, None, (1, 1)),  # not one process: it delivers less (RESULTS, footprint)
        (2, None, None, (1, 1)),
        (3, None, None, (1, 1)),
        (16, None, None, (8, 8)),
        (16, 3, None, (3, 8)),
        (2, 1, 0, (1, 0)),
        (16, 4, 2, (4, 2)),
    ],
)
def test_the_layout_follows_the_cores_unless_chosen(
    cores: int, web: int | None, processing: int | None, expected: tuple[int, int]
) -> None:
    layout = ProcessLayout.choose(web=web, processing=processing, workers=2, cores=cores)
    assert (layout.web, layout.processing) == expected
    assert layout.single is (expected == (1, 0))


def test_without_workers_no_processing_process_is_started() -> None:
    layout = ProcessLayout.choose(web=None, processing=None, workers=0, cores=16)
    assert (layout.web, layout.processing) == (8, 0)
    assert ProcessLayout.choose(web=1, processing=None, workers=0, cores=16).single


def test_workers_inside_several_web_processes_are_refused() -> None:
    with pytest.raises(ValueError, match="needs web_processes 1"):
        ProcessLayout.choose(web=2, processing=0, workers=2, cores=2)


def test_a_bump_in_one_process_is_seen_by_another_until_it_catches_up() -> None:
    shared = SharedMemory.create(between_processes=True)
    assert not shared.moved()
    pid = os.fork()
    if pid == 0:  # the child: another process of the instance
        shared.bump()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert shared.moved()
    reloads: list[int] = []
    shared.catch_up(lambda: reloads.append(shared.generation))
    shared.catch_up(lambda: reloads.append(shared.generation))  # nothing moved since
    assert reloads == [1]
    assert not shared.moved()


def test_the_process_table_keeps_the_last_pid_of_each_slot() -> None:
    shared = SharedMemory.create(between_processes=False)
    shared.set_process(0, "web-0", 101)
    shared.set_process(1, "processing-0", 102)
    shared.set_process(1, "processing-0", 103)  # restarted
    assert shared.processes() == [("web-0", 101), ("processing-0", 103)]


async def test_the_requests_of_one_loop_turn_write_one_wake_up() -> None:
    wakeup = Wakeup()
    for _ in range(50):  # the answers of one group commit
        wakeup.notify()
    assert not wakeup.drain()  # nothing written before the turn ends
    await asyncio.sleep(0)
    assert os.read(wakeup.reader(), 100) == b"\0"
    wakeup.notify()
    await asyncio.sleep(0)
    assert wakeup.drain()
    assert not wakeup.drain()
