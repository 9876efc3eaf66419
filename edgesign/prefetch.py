"""Prepare the next items on a worker thread while the caller works on the current one.

`edgesign predict` decodes, resizes and quantizes frame N+1 while the interpreter runs frame N:
Pillow, OpenCV and the TFLite interpreter release the GIL in their C code, so on a device with
two or more cores the preprocessing leaves the critical path and a frame costs about one
``invoke()``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


def put_unless_stopped(q: queue.Queue, entry: object, stop: threading.Event) -> bool:
    """Put ``entry`` on ``q``, waiting for room until ``stop`` is set: a worker never blocks forever
    on a consumer that has gone. False when it stopped first."""
    while not stop.is_set():
        try:
            q.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def drain(q: queue.Queue) -> None:
    """Empty ``q``: a worker waiting to put gets room, and so sees its stop signal."""
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


def prefetch(items: Iterable[T], prepare: Callable[[T], U], depth: int = 2) -> Iterator[tuple[T, U]]:
    """``(item, prepare(item))`` for each item, in order, computed up to ``depth`` items ahead.

    The worker thread owns ``items``: it draws them and, when the consumer stops early, closes
    them (a generator's cleanup, such as releasing a camera, runs there). An exception raised by
    the source or by ``prepare`` reaches the consumer at that item's position, after the items
    before it.
    """
    out: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def work() -> None:
        # entries are (item, prepared, error); (_DONE, None, error or None) ends the stream
        source = iter(items)
        try:
            while not stop.is_set():
                try:
                    item = next(source)
                except StopIteration:
                    break
                except BaseException as exc:  # the source failed: hand the error over, in order
                    put_unless_stopped(out, (_DONE, None, exc), stop)
                    return
                try:
                    entry = (item, prepare(item), None)
                except BaseException as exc:
                    entry = (item, None, exc)
                if not put_unless_stopped(out, entry, stop) or entry[2] is not None:
                    return
            put_unless_stopped(out, (_DONE, None, None), stop)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="edgesign-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, prepared, error = out.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item, prepared
    finally:
        stop.set()
        drain(out)  # a worker waiting to put sees the stop and closes the source
        worker.join(1.0)
