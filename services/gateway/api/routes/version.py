"""``GET /v1/version``: what serves the jobs — every live worker's model version and queue, and the
canary routes.

Workers publish a heartbeat to Redis while they run (:class:`services.common.serving.Heartbeat`,
expiring 30 s after the last beat), so a worker that died drops out within 30 s. ``models`` sums the
workers up per kind: ``{"classifier": {"v3": 2, "v4": 1}}`` (version -> live workers). ``routes`` is
what the router sends new jobs by (:mod:`services.common.routing`).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.common.model_registry import read_routes
from services.common.serving import serving

from ...deps import ApiKeyDep, StoreDep
from ...errors import ApiError

router = APIRouter(tags=["version"])


def _read(r) -> dict:
    workers = serving(r)
    models: dict[str, dict[str, int]] = {}
    for w in workers:
        per = models.setdefault(w.get("kind", "?"), {})
        per[w.get("version", "?")] = per.get(w.get("version", "?"), 0) + 1
    return {"workers": [{k: w.get(k) for k in ("kind", "version", "queue", "node", "started_at")} for w in workers],
            "models": models, "routes": read_routes(r)}


@router.get("/version", summary="Model versions served by the live workers, and the canary routes")
async def version(_: ApiKeyDep, store: StoreDep) -> dict:
    try:
        body = await run_in_threadpool(_read, store.r)
    except Exception as exc:
        raise ApiError(503, "redis_unavailable", "the worker registry cannot be read; try again") from exc
    return {"gateway": "sketchref", **body}
