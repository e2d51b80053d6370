"""Backpressure: refuse a submission at once when it could not be worked on soon.

``POST /v1/jobs`` answers 503 with ``Retry-After`` instead of accepting a job that would only wait
for its deadline:

- ``queue_full``: a stage's queue holds more than ``max_queue_depth`` messages (a pipelined LLEN of
  the three queues). Far from the limit a reading is reused for up to :data:`DEPTH_REUSE_S`, counting
  every submission checked since as one more message, while that estimate stays under half the
  limit; nearer it, every submission reads again. Under load this saves a Redis round trip per
  submission, and the limit still holds exactly for one gateway (within what other gateways queue in
  that quarter second, for several);
- ``no_worker``: a stage's queue has had no live consumer for ``worker_absent_s`` seconds. Which
  queues have consumers is asked in the background every ``worker_check_interval_s`` seconds with
  Celery's remote control (``active_queues``: every worker's main process answers, even while its
  pool child is busy), so a submission never waits for it. Until the gateway has looked once, and
  during ``worker_grace_s`` after it starts (workers load their models), nothing is refused for it.

``require_workers = false`` turns the consumer check off (a gateway tested alone).
"""

from __future__ import annotations

import logging
import threading
import time

from services.common.queue import QUEUES, queue_depths

from .errors import ApiError

log = logging.getLogger("sketchref.gateway")
DEPTH_REUSE_S = 0.25


class Backpressure:
    def __init__(self, celery, settings, clock=time.monotonic):
        self.celery, self.s, self.clock = celery, settings, clock
        self.started = clock()
        self.seen: dict[str, float] = {}  # queue -> when a consumer of it last answered
        self.looked = False
        self._deepest, self._read_at, self._since = 0, -1e18, 0  # the last depth reading, and checks since
        self._lock = threading.Lock()

    def _depths(self, redis_client) -> dict[str, int] | None:
        """The queue depths read now, or None where a recent reading shows every queue far from the
        limit still (see the module docstring)."""
        with self._lock:
            self._since += 1
            estimate = self._deepest + self._since
            if self.clock() - self._read_at <= DEPTH_REUSE_S and 2 * estimate < self.s.max_queue_depth:
                return None
        depths = queue_depths(redis_client)
        with self._lock:
            self._deepest, self._read_at, self._since = max(depths.values(), default=0), self.clock(), 0
        return depths

    def refresh(self) -> dict[str, int]:
        """Ask the workers which queues they consume (blocks up to the ping timeout); returns the
        number of consumers per queue."""
        replies = self.celery.control.inspect(timeout=self.s.worker_ping_timeout_s).active_queues() or {}
        now = self.clock()
        counts = dict.fromkeys(QUEUES, 0)
        for queues in replies.values():
            for q in queues or ():
                name = q.get("name") if isinstance(q, dict) else None
                if name in counts:
                    counts[name] += 1
                    self.seen[name] = now
        self.looked = True
        return counts

    def absent(self) -> list[str]:
        """Queues without a live consumer (empty while the check is off, unknown or in its grace)."""
        if not self.s.require_workers or not self.looked:
            return []
        now = self.clock()
        if now - self.started < self.s.worker_grace_s:
            return []
        return [q for q in QUEUES if now - self.seen.get(q, -1e18) > self.s.worker_absent_s]

    def check(self, redis_client) -> None:
        """Raise a 503 when a submission should not be accepted now (see the module docstring)."""
        missing = self.absent()
        if missing:
            raise ApiError(503, "no_worker", f"no worker is consuming the {', '.join(missing)} queue; try again later",
                           headers={"Retry-After": str(self.s.outage_retry_after_s)})
        if self.s.max_queue_depth > 0:
            full = [q for q, n in (self._depths(redis_client) or {}).items() if n >= self.s.max_queue_depth]
            if full:
                raise ApiError(503, "queue_full", f"the {', '.join(full)} queue is full; try again shortly",
                               headers={"Retry-After": str(self.s.outage_retry_after_s)})


async def watch_workers(app) -> None:
    """Refresh the consumer picture forever (a background task of the app)."""
    import asyncio

    from fastapi.concurrency import run_in_threadpool

    bp: Backpressure = app.state.backpressure
    if not app.state.settings.require_workers:
        return
    while True:
        try:
            counts = await run_in_threadpool(bp.refresh)
            missing = [q for q, n in counts.items() if not n]
            if missing and app.state.settings.require_workers:
                log.warning("no live consumer for queue(s): %s", ", ".join(missing))
        except Exception as exc:
            log.warning("could not ask the workers: %s", type(exc).__name__)
        await asyncio.sleep(app.state.settings.worker_check_interval_s)
