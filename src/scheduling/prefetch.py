"""Reading ahead and writing behind: background threads overlap a pipeline's stages.

:func:`prefetched` reads ahead: a background thread produces the next items while the consumer
works on the current one. :class:`OrderedWriter` writes behind: a background thread writes the
items the producer has finished, in order.

The batch executor reads feature chunks (DuckDB, Arrow, the chunk check) while ONNX Runtime scores the
previous chunk; both release the GIL for most of their work, so on two cores the read and the
scoring overlap. At most ``depth`` items wait in the queue, so memory stays bounded by the chunk
size. An error in the producer is raised in the consumer; a consumer that stops early stops the
producer, which then closes the source iterator in its own thread. The writer, in turn, writes
the parquet part and commits the previous chunk while the next one is scored.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")

PUT_POLL_S = 0.1
"""How often a producer blocked on a full queue checks whether the consumer has gone."""
BACKGROUND_NICENESS = 5
"""How much nicer than its process a reading-ahead or writing-behind thread runs (Linux)."""


def yield_to_consumer() -> None:
    """Lower the calling thread's CPU priority by :data:`BACKGROUND_NICENESS` (Linux, where each thread
    has its own nice value; elsewhere nothing).

    The consumer is the pipeline's critical stage (the batch executor's ONNX Runtime scoring): when
    the stages together want more cores than the machine has, the scheduler should give it a whole
    core and let the helpers share what is left, since they only need to keep ahead of it. On an
    idle machine the priority changes nothing.
    """
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # a container may refuse; the pipeline is correct either way
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICENESS))


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Done:
    """The end-of-stream marker a worker puts on its queue after the last item."""


@dataclass(frozen=True)
class _Value(Generic[Item]):
    item: Item


def _put(buffer: queue.Queue[object], message: object, stop: threading.Event) -> bool:
    """Put ``message`` unless the consumer has stopped; whether it was put."""
    while not stop.is_set():
        try:
            buffer.put(message, timeout=PUT_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Iterator[Item], buffer: queue.Queue[object], stop: threading.Event) -> None:
    yield_to_consumer()
    try:
        for item in items:
            if not _put(buffer, _Value(item), stop):
                return
        _put(buffer, _Done(), stop)
    except BaseException as error:
        _put(buffer, _Failed(error), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def prefetched(items: Iterator[Item], *, depth: int = 2) -> Iterator[Item]:
    """``items`` in order, produced by a background thread up to ``depth`` items ahead."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, buffer, stop), name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            message = buffer.get()
            if isinstance(message, _Done):
                return
            if isinstance(message, _Failed):
                raise message.error
            assert isinstance(message, _Value)
            yield message.item
    finally:
        stop.set()
        thread.join()


class OrderedWriter(Generic[Item]):
    """Writing behind: one background thread hands each submitted item to ``write``, in submission order.

    The batch executor scores the next chunk while this thread writes the previous one's parquet
    part and commits it. At most ``depth`` items wait, so :meth:`submit` blocks when the writer
    falls behind. The first error of ``write`` stops the writer and is raised by the next
    :meth:`submit` or at the end of the ``with`` block; leaving the block on an error of the
    consumer drops the items still waiting (never written, so never committed) and joins the thread.
    """

    def __init__(self, write: Callable[[Item], None], *, depth: int = 2, name: str = "writer") -> None:
        self._write = write
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> OrderedWriter[Item]:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if kind is None:
            self._hand(_Done())
        else:
            self._stop.set()
        self._thread.join()
        if kind is None:
            self._raise_failure()

    def submit(self, item: Item) -> None:
        """Queue ``item`` behind the ones before it; raise the writer's error if it has failed."""
        self._hand(_Value(item))

    def _hand(self, message: object) -> None:
        while True:
            self._raise_failure()
            try:
                self._buffer.put(message, timeout=PUT_POLL_S)
                return
            except queue.Full:
                continue

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        yield_to_consumer()
        while not self._stop.is_set():
            try:
                message = self._buffer.get(timeout=PUT_POLL_S)
            except queue.Empty:
                continue
            if isinstance(message, _Done):
                return
            assert isinstance(message, _Value)
            try:
                self._write(message.item)
            except BaseException as error:
                self._error = error
                return
