"""What the gateway's ``/metrics`` adds about the fleet: live workers and canary queues, from Redis.

- ``sketchref_workers{kind, model_version, queue}``: live workers by their heartbeats
  (:class:`services.common.serving.Heartbeat`); a queue with no worker is what the
  ``SketchrefNoWorkerForQueue`` alert looks for;
- ``sketchref_model_route_weight{kind, model_version, role}``: the share of new jobs each version gets
  (``current`` and ``canary``), as the router reads it.

The depth of a canary's own queue (``classify@v4``) is in ``sketchref_queue_depth`` with the others
(:func:`canary_queues`).
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from services.common.model_registry import read_routes
from services.common.routing import STAGE_OF, version_queue
from services.common.serving import serving


def canary_queues(routes: dict[str, dict]) -> list[str]:
    return [version_queue(STAGE_OF[k], r["canary"]) for k, r in routes.items() if k in STAGE_OF and r.get("canary")]


def fleet_families(r, routes: dict[str, dict]):
    workers = GaugeMetricFamily("sketchref_workers", "Live workers (by heartbeat)",
                                labels=["kind", "model_version", "queue"])
    counts: dict[tuple[str, str, str], int] = {}
    for w in serving(r):
        key = (str(w.get("kind")), str(w.get("version")), str(w.get("queue")))
        counts[key] = counts.get(key, 0) + 1
    for key, n in sorted(counts.items()):
        workers.add_metric(list(key), n)
    yield workers
    weights = GaugeMetricFamily("sketchref_model_route_weight", "Share of new jobs routed to a model version",
                                labels=["kind", "model_version", "role"])
    for kind, route in sorted(routes.items()):
        w = float(route.get("weight") or 0.0) if route.get("canary") else 0.0
        if route.get("current"):
            weights.add_metric([kind, route["current"], "current"], 1.0 - w)
        if route.get("canary"):
            weights.add_metric([kind, route["canary"], "canary"], w)
    yield weights


__all__ = ["canary_queues", "fleet_families", "read_routes"]
