"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: Redis and S3 reachable)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ...deps import StorageDep, StoreDep
from ...errors import error_response

log = logging.getLogger("sketchref.gateway")
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict:
    return {"status": "ok"}


def _check_storage(storage) -> None:
    client = getattr(storage, "client", None)
    if client is not None:
        client.head_bucket(Bucket=storage.bucket)
    else:
        storage.list("__readyz__")


@router.get("/readyz", summary="Redis and S3 are reachable")
async def readyz(store: StoreDep, storage: StorageDep):
    checks = {}
    for name, fn in (("redis", store.r.ping), ("storage", lambda: _check_storage(storage))):
        try:
            await run_in_threadpool(fn)
            checks[name] = "ok"
        except Exception as exc:
            log.warning("readyz: %s unreachable (%s)", name, type(exc).__name__)
            checks[name] = "unreachable"
    bad = [k for k, v in checks.items() if v != "ok"]
    if bad:
        return error_response(503, "not_ready", f"unreachable: {', '.join(bad)}")
    return {"status": "ready", "checks": checks}
