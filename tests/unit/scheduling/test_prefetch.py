"""Reading ahead and writing behind: order kept, errors raised in the caller, nothing written after a failure."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from scheduling.prefetch import BACKGROUND_NICENESS, OrderedWriter, prefetched


class Broken(Exception):
    """A failure of one stage."""


def test_prefetched_keeps_the_order_and_raises_the_producer_s_error() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise Broken("read failed")

    seen: list[int] = []
    with pytest.raises(Broken, match="read failed"):
        seen.extend(prefetched(items()))
    assert seen == [0, 1, 2, 3, 4]


def test_the_writer_writes_every_item_in_submission_order_on_its_own_thread() -> None:
    written: list[tuple[int, str]] = []
    with OrderedWriter[int](lambda item: written.append((item, threading.current_thread().name))) as writer:
        for item in range(50):
            writer.submit(item)
    assert [item for item, _thread in written] == list(range(50))
    assert {thread for _item, thread in written} == {"writer"}


def test_the_writer_s_error_is_raised_in_the_caller_and_later_items_are_not_written() -> None:
    written: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            raise Broken(f"commit of {item} failed")
        written.append(item)

    with pytest.raises(Broken, match="commit of 3 failed"), OrderedWriter[int](write, depth=1) as writer:
        for item in range(100):
            writer.submit(item)
    assert written == [0, 1, 2]


def test_a_caller_that_fails_gets_its_own_error_and_the_writer_stops() -> None:
    release, written = threading.Event(), []

    def write(item: int) -> None:
        release.wait()
        written.append(item)

    with pytest.raises(Broken), OrderedWriter[int](write, depth=2) as writer:
        writer.submit(0)
        writer.submit(1)
        release.set()
        raise Broken("scoring failed")
    assert written in ([], [0], [0, 1])  # what was in hand may finish; the rest is dropped, never committed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own nice value on Linux only")
def test_the_helper_threads_run_nicer_than_the_consumer() -> None:
    """Both helpers lower their own priority so that the consumer (the scoring stage) gets a core first;
    the consumer's thread keeps the process's priority."""
    consumer = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    expected = min(19, consumer + BACKGROUND_NICENESS)

    def niceness() -> Iterator[int]:
        yield os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert list(prefetched(niceness())) == [expected]
    seen: list[int] = []
    with OrderedWriter[int](lambda _item: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))) as w:
        w.submit(1)
    assert seen == [expected]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == consumer
