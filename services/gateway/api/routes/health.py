"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: Redis and S3 reachable).

``/readyz`` probes both dependencies side by side, each with ``readyz_timeout_s``, so it answers
within about two seconds even when one of them is frozen (a 503 ``not_ready`` naming it)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request

from services.core.contracts import ErrorBody

from ...deps import StorageDep, StoreDep
from ...errors import error_response

log = logging.getLogger("sketchref.gateway")
router = APIRouter(tags=["health"])
# probes run here, not in the request thread pool: a frozen dependency ties up at most these
_PROBES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict:
    return {"status": "ok"}


def _check_storage(storage) -> None:
    client = getattr(storage, "client", None)
    if client is not None:
        client.head_bucket(Bucket=storage.bucket)
    else:
        storage.list("__readyz__")


async def _probe(name: str, fn, timeout: float) -> str:
    """``ok`` or ``unreachable`` within ``timeout`` seconds (the thread it ran in ends by itself
    when the client's own socket timeout fires; nobody waits for it)."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(asyncio.shield(loop.run_in_executor(_PROBES, fn)), timeout)
        return "ok"
    except Exception as exc:
        log.warning("readyz: %s unreachable (%s)", name, type(exc).__name__)
        return "unreachable"


@router.get("/readyz", summary="Redis and S3 are reachable (answers within about 2 s whatever happens)",
            responses={503: {"model": ErrorBody, "description": "a dependency is unreachable",
                             "headers": {"Retry-After": {"schema": {"type": "integer"}}}}})
async def readyz(request: Request, store: StoreDep, storage: StorageDep):
    timeout = request.app.state.settings.readyz_timeout_s
    names = ("redis", "storage")
    results = await asyncio.gather(_probe("redis", store.r.ping, timeout),
                                   _probe("storage", lambda: _check_storage(storage), timeout))
    checks = dict(zip(names, results, strict=True))
    bad = [k for k, v in checks.items() if v != "ok"]
    if bad:
        return error_response(503, "not_ready", f"unreachable: {', '.join(bad)}",
                              headers={"Retry-After": str(request.app.state.settings.outage_retry_after_s)})
    return {"status": "ready", "checks": checks}
