"""Cross-job batching: the model calls of concurrent tasks in one worker become one batched call.

A batched worker runs Celery's ``threads`` pool with ``B`` threads (``--batch B``: concurrency B,
prefetch B, DESIGN.md §6). Each task stays one job: it reads its record, decodes its sketch, stores
its result and enqueues its next stage itself, and its message is acknowledged late, alone. Only the
model call goes through :class:`MicroBatcher`: the first task to arrive leads; it takes every call
waiting (up to ``B``) and runs them as one batch. It waits for more (at most ``T`` ms) **only while
other tasks of this worker are on their way** (counted from task start, see :meth:`arriving`); a lone
job never waits. While a batch runs, new calls queue and form the next one. The worker passes ``B``
and ``T`` from its settings (``SKETCHREF_BATCH_MAX_SIZE``, ``SKETCHREF_BATCH_MAX_WAIT_MS``).

Failure isolation: the batch function returns one result or one exception per item; when the batched
call itself raises, every item is run again alone, so one poisoned job fails alone and the others
complete (``run_isolated``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

BatchFn = Callable[[Sequence[Any]], list[Any]]  # items -> one result or one Exception per item


@dataclass
class _Slot:
    item: Any
    done: bool = False
    value: Any = None
    error: BaseException | None = None


def run_isolated(items: Sequence[Any], many: BatchFn, one: Callable[[Any], Any]) -> list[Any]:
    """``many(items)``; if it raises, ``one(item)`` for each item, each item's exception kept as its result."""
    if len(items) > 1:
        try:
            return many(items)
        except Exception:  # noqa: BLE001 - a poisoned item: find it by running each alone
            pass
    out: list[Any] = []
    for item in items:
        try:
            out.append(one(item))
        except Exception as exc:  # noqa: BLE001 - kept as this item's result
            out.append(exc)
    return out


class MicroBatcher:
    """Thread-safe: ``submit(item)`` blocks until the batch holding ``item`` ran; returns its result or
    raises its exception. ``fn`` gets a list of items and returns a list of results or exceptions."""

    def __init__(self, fn: BatchFn, max_batch: int = 8, max_wait_ms: float = 5.0):
        self.fn, self.max_batch, self.max_wait_s = fn, max(1, int(max_batch)), max(0.0, max_wait_ms / 1000)
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False
        self._coming = 0  # tasks started in this worker that have not submitted yet
        self._local = threading.local()
        self.sizes: list[int] = []  # batch sizes run (recent), for tests and metrics

    @contextmanager
    def arriving(self):
        """Around a whole task: while it reads and decodes, a leader may wait for its call."""
        with self._cond:
            self._coming += 1
        self._local.pending = True
        try:
            yield
        finally:
            if getattr(self._local, "pending", False):
                self._local.pending = False
                with self._cond:
                    self._coming -= 1
                    self._cond.notify_all()

    def _arrived(self) -> None:
        if getattr(self._local, "pending", False):
            self._local.pending = False
            self._coming -= 1

    def submit(self, item: Any) -> Any:
        slot = _Slot(item)
        with self._cond:
            self._arrived()
            self._queue.append(slot)
            self._cond.notify_all()
            while not slot.done and self._busy:
                self._cond.wait()
            if slot.done:
                return self._result(slot)
            self._busy = True  # lead the next batch, which holds this slot
        try:
            batch = self._collect(slot)
            self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return self._result(slot)

    def _collect(self, mine: _Slot) -> list[_Slot]:
        with self._cond:
            deadline = time.monotonic() + self.max_wait_s
            while len(self._queue) < self.max_batch and self._coming > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._queue.remove(mine)
            batch = [mine, *self._queue[:self.max_batch - 1]]
            del self._queue[:self.max_batch - 1]
            return batch

    def _run(self, batch: list[_Slot]) -> None:
        try:
            results = self.fn([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
        except Exception as exc:  # noqa: BLE001 - the batch function itself broke: every item gets it
            results = [exc] * len(batch)
        self.sizes = [*self.sizes[-999:], len(batch)]
        with self._cond:
            for s, r in zip(batch, results, strict=True):
                if isinstance(r, BaseException):
                    s.error = r
                else:
                    s.value = r
                s.done = True
            self._cond.notify_all()

    @staticmethod
    def _result(slot: _Slot) -> Any:
        if slot.error is not None:
            raise slot.error
        return slot.value
