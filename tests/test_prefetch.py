"""The prefetch stage of `edgesign predict`: order, overlap, errors in place, cleanup of the source."""

from __future__ import annotations

import threading
import time

import pytest

from edgesign.prefetch import prefetch


def test_items_in_order_with_their_prepared_values():
    assert list(prefetch(range(50), lambda x: x * x)) == [(i, i * i) for i in range(50)]
    assert list(prefetch([], str)) == []


def test_next_item_is_prepared_while_the_current_one_is_in_use():
    started = {}
    lock = threading.Lock()

    def prepare(x):
        with lock:
            started[x] = threading.current_thread().name
        return x

    it = prefetch(range(3), prepare)
    first = next(it)
    deadline = time.monotonic() + 5
    while 1 not in started and time.monotonic() < deadline:  # the consumer has not asked for item 1 yet
        time.sleep(0.01)
    assert first == (0, 0)
    assert started.get(1) == "edgesign-prefetch"
    it.close()


def test_a_failing_prepare_is_raised_at_its_position():
    def prepare(x):
        if x == 3:
            raise ValueError("bad item 3")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item, _ in prefetch(range(10), prepare):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_a_failing_source_is_raised_after_the_items_before_it():
    closed = threading.Event()

    def source():
        try:
            yield 1
            yield 2
            raise RuntimeError("camera gone")
        finally:
            closed.set()

    seen = []
    with pytest.raises(RuntimeError, match="camera gone"):
        for item, _ in prefetch(source(), str):
            seen.append(item)
    assert seen == [1, 2]
    assert closed.wait(5)


def test_stopping_early_closes_the_source_on_the_worker_thread():
    closed_on = []
    done = threading.Event()

    def source():
        try:
            i = 0
            while True:  # an endless camera
                yield i
                i += 1
        finally:
            closed_on.append(threading.current_thread().name)
            done.set()

    it = prefetch(source(), str, depth=2)
    assert [next(it)[0] for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()  # the worker is blocked on a full queue: it must see the stop and clean up
    assert done.wait(5)
    assert closed_on == ["edgesign-prefetch"]


def test_a_slow_consumer_keeps_at_most_depth_items_waiting():
    drawn = []

    def source():
        for i in range(100):
            drawn.append(i)
            yield i

    it = prefetch(source(), str, depth=2)
    next(it)
    time.sleep(0.3)
    # one handed out, two queued, one drawn and waiting to be queued
    assert len(drawn) <= 4
    it.close()
