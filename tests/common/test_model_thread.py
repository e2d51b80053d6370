"""Every model call of a worker runs on its one model thread (warm-up and batches alike)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from services.common.worker import Context


def _where(*_args) -> str:
    return threading.current_thread().name


def test_calls_from_many_threads_run_on_one_model_thread():
    ctx = Context(kind="detector", default_loader="unused:unused")
    with ThreadPoolExecutor(6) as pool:
        names = set(pool.map(lambda _: ctx.on_model_thread(_where), range(24)))
    assert len(names) == 1
    (name,) = names
    assert name.startswith("detector-model") and name != threading.current_thread().name


def test_batched_calls_run_on_the_model_thread_and_keep_their_results():
    seen: list[str] = []

    def batch(ctx, items):
        seen.append(threading.current_thread().name)
        return [x * 10 for x in items]

    ctx = Context(kind="classifier", default_loader="unused:unused", batch_fn=batch)
    warm = ctx.on_model_thread(_where)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda x: ctx.batched(x, batch), range(8)))
    assert results == [x * 10 for x in range(8)]
    assert set(seen) == {warm}


def test_after_fork_forgets_the_thread_and_the_batcher():
    ctx = Context(kind="detector", default_loader="unused:unused", batch_fn=lambda c, items: items)
    ctx.on_model_thread(_where)
    old = ctx._model_thread
    ctx.batcher()
    ctx.after_fork()
    assert ctx._model_thread is None and ctx._batcher is None
    assert ctx.on_model_thread(_where).startswith("detector-model")
    assert ctx._model_thread is not old  # a new executor: the parent's thread does not exist in a child
    old.shutdown()
