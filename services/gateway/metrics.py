"""Prometheus metrics of the whole pipeline, read from Redis at scrape time.

What the job store counts (jobs by status, :mod:`services.common.job_store`) and what the queues hold
live in Redis; this collector turns them into ``sketchref_jobs_total{status}``,
``sketchref_jobs_active``, ``sketchref_queue_depth{queue}`` (canary queues too) and
``sketchref_rate_limited_total`` (submissions refused with 429, by every gateway replica), plus the
fleet (:mod:`.fleet_metrics`: live workers per queue and model version, route weights) on every
scrape. A per-app registry, so several apps (tests) never collide. Stage latencies are not here: each worker serves its own
``sketchref_worker_stage_seconds{stage, model_version, outcome}`` (:mod:`services.common.worker_metrics`).
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from services.common.job_store import JobStore
from services.common.queue import queue_depths

from .fleet_metrics import canary_queues, fleet_families, read_routes
from .ratelimit import REFUSED_KEY

log = logging.getLogger("sketchref.gateway")


class PipelineCollector:
    def __init__(self, store: JobStore):
        self.store = store

    def collect(self):
        up = GaugeMetricFamily("sketchref_redis_up", "1 when the last scrape could read Redis")
        try:
            counts = self.store.job_counts()
            depths = queue_depths(self.store.r)
            active = self.store.active_count()
            refused = int(self.store.r.get(REFUSED_KEY) or 0)
            routes = read_routes(self.store.r)
            for q in canary_queues(routes):
                depths[q] = int(self.store.r.llen(q))
            fleet = list(fleet_families(self.store.r, routes))
        except Exception as exc:
            log.warning("metrics: Redis unreachable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = CounterMetricFamily("sketchref_jobs", "Jobs that reached each status", labels=["status"])
        for status in ("created", "queued", "running", "succeeded", "failed"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        g = GaugeMetricFamily("sketchref_jobs_active", "Jobs not finished yet")
        g.add_metric([], active)
        yield g
        qd = GaugeMetricFamily("sketchref_queue_depth", "Messages waiting per queue", labels=["queue"])
        for q, n in depths.items():
            qd.add_metric([q], n)
        yield qd
        rl = CounterMetricFamily("sketchref_rate_limited", "Job submissions refused by the rate limiter (429)")
        rl.add_metric([], refused)
        yield rl
        yield from fleet


def make_registry(store: JobStore) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(PipelineCollector(store))
    return reg
