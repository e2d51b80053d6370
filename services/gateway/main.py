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

from . import errors, guess
from .api.main import api_router
from .api.routes import docs
from .metrics import make_registry
from .ratelimit import RateLimiter
from .settings import GatewaySettings, get_gateway_settings

log = logging.getLogger("sketchref.gateway")


def _requeue_stalled(app: FastAPI) -> int:
    from services.common.queue import enqueue

    s = app.state.settings
    if s.stall_requeue_s <= 0:
        return 0
    stalled = app.state.store.requeue_stalled(s.stall_requeue_s, s.stall_max_requeues)
    for job_id, stage in stalled:
        enqueue(app.state.celery, stage, job_id)
    return len(stalled)


async def _sweeper(app: FastAPI) -> None:
    """Every ``sweep_interval_s`` seconds: mark jobs past their deadline failed, and send the stage
    of stalled jobs again (see :meth:`JobStore.requeue_stalled`)."""
    while True:
        await asyncio.sleep(app.state.settings.sweep_interval_s)
        try:
            failed = await run_in_threadpool(app.state.store.sweep)
            if failed:
                log.warning("deadline exceeded: marked %d job(s) failed", len(failed))
            requeued = await run_in_threadpool(_requeue_stalled, app)
            if requeued:
                log.warning("requeued the current stage of %d stalled job(s)", requeued)
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
        await app.state.aredis.aclose()


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    import redis
    import redis.asyncio

    from services.common.queue import make_celery
    from services.common.storage import get_storage

    s = settings or get_gateway_settings()
    app = FastAPI(title="sketchref", version="0.1.0", lifespan=lifespan, **docs.docs_kwargs(s.docs_enabled),
                  description="Finds every object in a sketch, labels it and suggests reference pictures.")
    app.state.settings = s
    app.state.store = JobStore(redis.Redis.from_url(s.redis_url, socket_timeout=5, socket_connect_timeout=2),
                               ttl_s=s.job_ttl_s)
    # async client for the long poll's subscriptions (GET /v1/jobs/{id}?wait=)
    app.state.aredis = redis.asyncio.Redis.from_url(s.redis_url, socket_connect_timeout=2)
    app.state.limiter = RateLimiter(app.state.store.r, s.rate_limit_per_minute, s.rate_limit_burst)
    app.state.storage = get_storage(s)
    app.state.celery = make_celery(s)
    app.state.registry = make_registry(app.state.store)
    errors.install(app)
    app.include_router(api_router)
    docs.install(app, s.docs_enabled)
    guess.warm_in_background()
    if s.static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=s.static_dir, html=True), name="static")
    return app
