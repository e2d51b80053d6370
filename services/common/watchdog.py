"""Hard time limits where Celery has none: the ``threads`` pool of the batching workers.

Celery enforces ``task_time_limit`` only under ``prefork``, by killing the pool child. A thread cannot
be killed, and a task stuck inside a model call (C code) cannot even be interrupted. So a worker
running the threads pool starts a :class:`Watchdog`: every task registers while it runs; once a
second the watchdog looks for one past its stage's hard limit (``SKETCHREF_QUEUE_TIME_LIMIT_S``, the
same setting prefork uses). For each it marks the job failed ("detect exceeded its time limit of
120 s"), then ends the worker process (exit status :data:`EXIT_STUCK`): its supervisor (``sketchref
up``, Kubernetes) starts a fresh one, and the other jobs the stuck worker held come back when their
leases lapse (services/common/lease.py). A failed job is not run again by a redelivery
(services/common/worker.py), so a job that hangs a model cannot take down worker after worker.

The soft limit has no equivalent here (nothing can be raised inside a C call); the job deadline still
ends every job.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("sketchref.watchdog")
EXIT_STUCK = 70  # EX_SOFTWARE: a task outlived its hard time limit


class Watchdog:
    """``limits``: hard seconds per stage. ``on_expired(job_id, stage, limit)`` records the failure;
    ``exit`` ends the process (``os._exit``; tests pass their own)."""

    def __init__(self, limits: dict[str, float], on_expired: Callable[[str, str, float], None],
                 exit: Callable[[int], None] = os._exit, interval_s: float = 1.0):
        self.limits, self.on_expired, self.exit, self.interval_s = limits, on_expired, exit, interval_s
        self._running: dict[int, tuple[str, str, float]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def started(self, job_id: str, stage: str) -> int:
        token = next(self._ids)
        with self._lock:
            self._running[token] = (job_id, stage, time.monotonic())
        return token

    def finished(self, token: int) -> None:
        with self._lock:
            self._running.pop(token, None)

    def expired(self, now: float | None = None) -> list[tuple[str, str, float]]:
        """The running tasks past their stage's limit: ``(job_id, stage, limit)``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            running = list(self._running.values())
        return [(job, stage, self.limits[stage]) for job, stage, t0 in running
                if stage in self.limits and now - t0 > self.limits[stage]]

    def check(self, now: float | None = None) -> bool:
        """Fail every expired task's job, then end the process; False when none expired."""
        stuck = self.expired(now)
        if not stuck:
            return False
        for job_id, stage, limit in stuck:
            log.error("%s exceeded its time limit of %.0f s: job failed, worker exiting", stage, limit,
                      extra={"job_id": job_id, "stage": stage})
            try:
                self.on_expired(job_id, stage, limit)
            except Exception as exc:  # Redis down: the deadline sweeper fails the job later
                log.warning("could not mark job %s failed: %s", job_id, type(exc).__name__)
        self.exit(EXIT_STUCK)
        return True

    def start(self) -> Watchdog:
        threading.Thread(target=self._run, name="sketchref-watchdog", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.check():
                return
