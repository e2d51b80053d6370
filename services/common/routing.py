"""Canary routing: which model version serves a job, decided once, by a hash of its id.

A job goes to the canary of a model kind when ``bucket(kind, job_id) < weight × 10 000``; the bucket is
the first 32 bits of ``sha256("<kind>:<job id>")`` modulo 10 000, so the split is deterministic (the
same id always goes the same way) and, over random job ids, as even as a fair draw. The choice is made
at submission and kept in the job record (``routes``: ``{kind: version}``, canary kinds only), so a job
stays on one version for all its stages, whatever changes meanwhile.

A stage for a canary version is sent to its own queue, ``<stage>@<version>`` (``classify@v4``), consumed
by a second worker (``sketchref worker classifier --model-version v4``, a second Deployment in k8s);
every other job goes to the plain queue, whose workers serve ``current``.

The gateway reads the routes from Redis (:func:`services.common.model_registry.read_routes`) through
:class:`RouteCache`, refreshed every ``ttl_s`` seconds (2 s by default), so ``sketchref models rollback``
sends every new job to the old version within seconds, with no restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

log = logging.getLogger("sketchref.routing")

BUCKETS = 10_000
STAGE_OF = {"detector": "detect", "classifier": "classify"}
KIND_OF = {v: k for k, v in STAGE_OF.items()}


def bucket(kind: str, job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{kind}:{job_id}".encode()).digest()[:4], "big") % BUCKETS


def choose(job_id: str, routes: dict[str, dict]) -> dict[str, str]:
    """``{kind: canary version}`` for every kind whose canary takes this job."""
    out = {}
    for kind, r in routes.items():
        canary, weight = r.get("canary"), float(r.get("weight") or 0.0)
        if kind in STAGE_OF and canary and bucket(kind, job_id) < round(weight * BUCKETS):
            out[kind] = canary
    return out


def queue_for(stage: str | None, routes: dict[str, str] | None) -> str | None:
    """The queue of ``stage`` for a job with these routes: ``classify@v4`` or plain ``classify``."""
    if stage is None:
        return None
    version = (routes or {}).get(KIND_OF.get(stage, ""))
    return f"{stage}@{version}" if version else stage


def version_queue(stage: str, version: str) -> str:
    return f"{stage}@{version}"


class RouteCache:
    """The routes from Redis, read at most every ``ttl_s`` seconds; on a Redis error the last known
    routes are kept (none at first: every job to ``current``)."""

    def __init__(self, redis_client, ttl_s: float = 2.0, clock=time.monotonic):
        self.r, self.ttl_s, self.clock = redis_client, ttl_s, clock
        self._routes: dict[str, dict] = {}
        self._at = float("-inf")
        self._lock = threading.Lock()

    def routes(self) -> dict[str, dict]:
        from .model_registry import read_routes

        now = self.clock()
        if now - self._at >= self.ttl_s:
            with self._lock:
                if now - self._at >= self.ttl_s:
                    try:
                        self._routes = read_routes(self.r)
                    except Exception as exc:
                        log.warning("routes: Redis unreadable (%s); keeping the last known", type(exc).__name__)
                    self._at = now
        return self._routes

    def choose(self, job_id: str) -> dict[str, str]:
        return choose(job_id, self.routes())
