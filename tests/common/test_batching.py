"""Cross-job batching (services/core/batching.py): batches form only from tasks on their way, a lone
call never waits, and one poisoned item fails alone."""

from __future__ import annotations

import threading

import pytest

from services.core.batching import MicroBatcher, run_isolated


def _double(items):
    if any(i == "poison" for i in items):
        raise ValueError("poisoned batch")
    return [i * 2 for i in items]


def _one(item):
    if item == "poison":
        raise ValueError("poisoned item")
    return item * 2


def test_a_lone_call_runs_at_once_even_with_a_long_wait():
    b = MicroBatcher(_double, max_batch=8, max_wait_ms=60_000)  # a wait would hang this test
    done = []

    def task():
        with b.arriving():
            done.append(b.submit(21))

    t = threading.Thread(target=task)
    t.start()
    t.join(timeout=10)
    assert done == [42] and b.sizes == [1]


def test_concurrent_tasks_form_one_batch():
    b = MicroBatcher(_double, max_batch=8, max_wait_ms=60_000)
    start = threading.Barrier(4)
    results: dict[int, int] = {}

    def task(i):
        with b.arriving():
            start.wait()
            results[i] = b.submit(i)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == {i: 2 * i for i in range(4)}
    assert b.sizes == [4]  # the leader waited for the three others that had started


def test_a_task_that_fails_before_its_call_does_not_hold_the_batch():
    b = MicroBatcher(_double, max_batch=8, max_wait_ms=60_000)
    gone = threading.Event()
    out = []

    def failing():
        with pytest.raises(RuntimeError), b.arriving():
            gone.wait(5)
            raise RuntimeError("the sketch is missing")

    def ok():
        with b.arriving():
            out.append(b.submit(5))

    t1, t2 = threading.Thread(target=failing), threading.Thread(target=ok)
    t1.start()
    t2.start()
    gone.set()
    t1.join(timeout=10)
    t2.join(timeout=10)
    assert out == [10]


def test_batches_are_capped_at_max_batch():
    b = MicroBatcher(_double, max_batch=2, max_wait_ms=60_000)
    start = threading.Barrier(5)
    results = []

    def task(i):
        with b.arriving():
            start.wait()
            results.append(b.submit(i))

    threads = [threading.Thread(target=task, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(results) == [0, 2, 4, 6, 8]
    assert max(b.sizes) <= 2 and sum(b.sizes) == 5


def test_a_poisoned_item_fails_alone():
    b = MicroBatcher(lambda items: run_isolated(items, _double, _one), max_batch=8, max_wait_ms=60_000)
    start = threading.Barrier(3)
    results: dict[object, object] = {}

    def task(item):
        with b.arriving():
            start.wait()
            try:
                results[item] = b.submit(item)
            except ValueError as exc:
                results[item] = str(exc)

    threads = [threading.Thread(target=task, args=(i,)) for i in (1, "poison", 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == {1: 2, 3: 6, "poison": "poisoned item"}


def test_run_isolated_keeps_each_items_exception():
    assert run_isolated([1, "poison", 2], _double, _one)[0::2] == [2, 4]
    assert isinstance(run_isolated([1, "poison"], _double, _one)[1], ValueError)
