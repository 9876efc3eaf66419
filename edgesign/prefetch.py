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


def prefetch(items: Iterable[T], prepare: Callable[[T], U], depth: int = 2) -> Iterator[tuple[T, U]]:
    """``(item, prepare(item))`` for each item, in order, computed up to ``depth`` items ahead.

    The worker thread owns ``items``: it draws them and, when the consumer stops early, closes
    them (a generator's cleanup, such as releasing a camera, runs there). An exception raised by
    the source or by ``prepare`` reaches the consumer at that item's position, after the items
    before it.
    """
    out: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():  # never block forever on a consumer that has gone
            try:
                out.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = iter(items)
        try:
            while not stop.is_set():
                try:
                    item = next(source)
                except StopIteration:
                    break
                except BaseException as exc:  # the source failed: hand the error over, in order
                    put((_DONE, exc))
                    return
                try:
                    entry = (item, prepare(item), None)
                except BaseException as exc:
                    entry = (item, None, exc)
                if not put(entry) or entry[2] is not None:
                    return
            put((_DONE, None))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="edgesign-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            entry = out.get()
            if entry[0] is _DONE:
                if entry[1] is not None:
                    raise entry[1]
                return
            item, prepared, error = entry
            if error is not None:
                raise error
            yield item, prepared
    finally:
        stop.set()
        try:  # unblock a worker waiting to put, so that it sees the stop and closes the source
            while True:
                out.get_nowait()
        except queue.Empty:
            pass
        worker.join(1.0)
