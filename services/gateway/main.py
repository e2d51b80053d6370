"""The gateway app: ``create_app(settings)``; run with ``sketchref gateway`` (uvicorn, factory mode).

No import-time settings or clients: each app builds its own Redis client, storage, Celery producer
and metrics registry from the settings it is given. The gateway never imports torch (a test checks
``sys.modules``): it validates and stores sketches, queues work by task name and answers jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from services.common.jobs import JobStore

from . import errors
from .api.main import api_router
from .metrics import make_registry
from .ratelimit import RateLimiter
from .settings import GatewaySettings, get_gateway_settings

log = logging.getLogger("sketchref.gateway")


async def _sweeper(app: FastAPI) -> None:
    """Mark jobs past their deadline failed, every ``sweep_interval_s`` seconds."""
    while True:
        await asyncio.sleep(app.state.settings.sweep_interval_s)
        try:
            failed = await run_in_threadpool(app.state.store.sweep)
            if failed:
                log.warning("deadline exceeded: marked %d job(s) failed", len(failed))
        except Exception as exc:
            log.warning("deadline sweep skipped: %s", type(exc).__name__)


@asynccontextmanager
async def lifespan(app: FastAPI):
    ensure = getattr(app.state.storage, "ensure_bucket", None)
    if ensure is not None:
        try:
            await run_in_threadpool(ensure)
        except Exception as exc:
            log.warning("could not create the S3 bucket yet: %s", type(exc).__name__)
    task = asyncio.create_task(_sweeper(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.state.store.r.close()


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    import redis

    from services.common.queue import make_celery
    from services.common.storage import get_storage

    s = settings or get_gateway_settings()
    app = FastAPI(title="sketchref", version="0.1.0", lifespan=lifespan,
                  description="Finds every object in a sketch, labels it and suggests reference pictures.")
    app.state.settings = s
    app.state.store = JobStore(redis.Redis.from_url(s.redis_url, socket_timeout=5, socket_connect_timeout=2),
                               ttl_s=s.job_ttl_s)
    app.state.limiter = RateLimiter(app.state.store.r, s.rate_limit_per_minute, s.rate_limit_burst)
    app.state.storage = get_storage(s)
    app.state.celery = make_celery(s)
    app.state.registry = make_registry(app.state.store)
    errors.install(app)
    app.include_router(api_router)
    if s.static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=s.static_dir, html=True), name="static")
    return app
