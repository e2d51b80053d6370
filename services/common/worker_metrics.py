"""Prometheus metrics of a worker, served by the worker itself on its own port.

A worker runs several processes (Celery's prefork pool), so the metrics use prometheus_client's
multiprocess mode: every process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and the
worker's main process serves their sum on ``--metrics-port`` (``SKETCHREF_WORKER_METRICS_PORT``; 9108
in the containers; 0 = off), on 127.0.0.1 unless ``SKETCHREF_WORKER_METRICS_ADDR`` says otherwise
(``0.0.0.0`` in the containers). :func:`setup` must run before any metric is made, so it chooses (and
empties) the folder first.

Metrics (all labelled with what the Grafana dashboard and the alert rules group by):

- ``sketchref_worker_stage_seconds{stage, model_version, outcome}``: a histogram of stage durations;
  ``outcome`` is ``done`` (result stored), ``skipped`` (a redelivery, nothing to do), ``failed`` (the
  job failed for good) or ``error`` (an exception: retried or failed);
- ``sketchref_worker_model_info{kind, model_version, queue}``: 1 per live worker process group: what
  each worker serves (counts of workers per queue come from it too);
- ``sketchref_worker_start_time_seconds{kind}``: when the worker started (its changes are restarts);
- ``sketchref_recommender_cache_total{outcome}``: the reference cache's ``hit`` / ``stale`` / ``miss``;
- ``sketchref_unsplash_requests_total{endpoint, status}``: calls to the Unsplash API by HTTP status
  (``error`` when none came back).

The gateway's ``/metrics`` keeps the queue depths and job counts read from Redis.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import lru_cache

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def setup(kind: str, port: int, addr: str = "127.0.0.1") -> str | None:
    """Multiprocess mode in a fresh folder, and the HTTP server on ``addr:port`` (port 0: metrics stay
    local)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for p in os.listdir(folder) if os.path.isdir(folder) else []:
            if p.endswith(".db"):
                os.remove(os.path.join(folder, p))
        os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix=f"sketchref-metrics-{kind}-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    if port:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        reg = CollectorRegistry()
        MultiProcessCollector(reg)
        # loopback unless told: containers set SKETCHREF_WORKER_METRICS_ADDR=0.0.0.0 (Prometheus scrapes
        # the pod's IP; the NetworkPolicy workers-metrics-ingress admits only the monitoring namespace)
        start_http_server(port, addr=addr, registry=reg)
    return folder


def cleanup(folder: str | None) -> None:
    """Remove the folder :func:`setup` made (not one the environment chose)."""
    if folder and folder.startswith(tempfile.gettempdir()) and "sketchref-metrics-" in folder:
        shutil.rmtree(folder, ignore_errors=True)


def process_exited(pid: int) -> None:
    """A pool child ended: drop its live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


@lru_cache
def _metrics():
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "stage": Histogram("sketchref_worker_stage_seconds", "Time spent in a stage, by model version and outcome",
                           ["stage", "model_version", "outcome"], buckets=BUCKETS),
        "start": Gauge("sketchref_worker_start_time_seconds", "When this worker started (a change is a restart)",
                       ["kind"], multiprocess_mode="max"),
        "info": Gauge("sketchref_worker_model_info", "1 per live worker: the model version it serves",
                      ["kind", "model_version", "queue"], multiprocess_mode="livemax"),
        "cache": Counter("sketchref_recommender_cache", "Reference cache lookups by outcome", ["outcome"]),
        "unsplash": Counter("sketchref_unsplash_requests", "Requests to the Unsplash API", ["endpoint", "status"]),
    }


def observe_stage(stage: str, model_version: str, outcome: str, seconds: float) -> None:
    _metrics()["stage"].labels(stage, model_version or "unknown", outcome).observe(seconds)


def serving(kind: str, model_version: str, queue: str) -> None:
    import time

    _metrics()["info"].labels(kind, model_version, queue).set(1)
    _metrics()["start"].labels(kind).set(time.time())


def cache_lookup(outcome: str) -> None:
    _metrics()["cache"].labels(outcome).inc()


def unsplash_request(endpoint: str, status: int | str) -> None:
    _metrics()["unsplash"].labels(endpoint, str(status)).inc()
