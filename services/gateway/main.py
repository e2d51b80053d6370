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

from services.common.idempotency import IdempotencyKeys
from services.common.job_store import JobStore
from services.common.routing import RouteCache
from services.common.settings import warn_renamed
from services.common.sweeper import Sweeper

from . import composition, errors, guess, openapi, warmup
from .admission import DecodeBudget
from .api.main import api_router
from .api.routes import docs
from .backpressure import Backpressure, watch_workers
from .job_watch import JobWatch
from .metrics import make_registry
from .middleware import AllowHeader, HeaderLimit, SecurityHeaders
from .ratelimit import RateLimiter
from .rendering import close_render_pool, warm_render_pool
from .server import AccessLogAfter
from .settings import GatewaySettings, get_gateway_settings

log = logging.getLogger("sketchref.gateway")


def _requeue_stalled(app: FastAPI) -> int:
    from services.common.queue import enqueue

    s = app.state.settings
    if s.stall_requeue_s <= 0:
        return 0
    stalled = app.state.sweeper.requeue_stalled(s.stall_requeue_s, s.stall_max_requeues)
    for job_id, stage in stalled:
        enqueue(app.state.celery, stage, job_id)
    return len(stalled)


async def _sweeper(app: FastAPI) -> None:
    """Every ``sweep_interval_s`` seconds: mark jobs past their deadline failed, and send the stage
    of stalled jobs again (:mod:`services.common.sweeper`; one replica leads)."""
    while True:
        await asyncio.sleep(app.state.settings.sweep_interval_s)
        try:
            failed = await run_in_threadpool(app.state.sweeper.sweep)
            if failed:
                log.warning("deadline exceeded: marked %d job(s) failed", len(failed))
            requeued = await run_in_threadpool(_requeue_stalled, app)
            if requeued:
                log.warning("requeued the current stage of %d stalled job(s)", requeued)
        except Exception as exc:
            log.warning("deadline sweep skipped: %s", type(exc).__name__)


@asynccontextmanager
async def lifespan(app: FastAPI):
    warn_renamed(GatewaySettings, log)
    ensure = getattr(app.state.storage, "ensure_bucket", None)
    if ensure is not None:
        try:
            await run_in_threadpool(ensure)
        except Exception as exc:
            log.warning("could not create the S3 bucket yet: %s", type(exc).__name__)
    warm_render_pool(app)
    guess_warm = guess.warm_in_background()  # here, not in create_app: only a serving app loads it
    tasks = [asyncio.create_task(_sweeper(app)), asyncio.create_task(watch_workers(app)),
             asyncio.create_task(warmup.warm(app))]  # the first submission's one-time costs, now
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        close_render_pool(app)
        await asyncio.to_thread(guess_warm.join, 10.0)
        app.state.store.r.close()
        await app.state.job_watch.close()
        await app.state.aredis.aclose()


def create_app(settings: GatewaySettings | None = None, references=None) -> FastAPI:
    """The app over ``settings`` (default: the environment's). ``references``: what the references
    routes serve (:class:`services.core.stages.ReferenceFiles`); default: the recommender's, named
    in :data:`services.gateway.composition.PROVIDED`, over the app's storage."""
    import redis
    import redis.asyncio
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from services.common.queue import make_celery
    from services.common.storage import S3Storage, get_storage

    s = settings or get_gateway_settings()
    app = FastAPI(title="sketchref", version="0.1.0", lifespan=lifespan, **docs.docs_kwargs(s.docs_enabled),
                  description="Finds every object in a sketch, labels it and suggests reference pictures.")
    app.state.settings = s
    # one attempt, short timeouts: a frozen Redis is a 503 within a second or two, not a hang
    app.state.store = JobStore(redis.Redis.from_url(
        s.redis_url, socket_timeout=s.redis_timeout_s, socket_connect_timeout=s.redis_timeout_s,
        retry=Retry(NoBackoff(), 0)), ttl_s=s.job_ttl_s)
    app.state.idempotency = IdempotencyKeys(app.state.store.r, ttl_s=s.job_ttl_s)
    app.state.sweeper = Sweeper(app.state.store, leader_ttl_s=s.sweep_leader_ttl_s)
    # async client for the long poll's subscriptions (GET /v1/jobs/{id}?wait=)
    app.state.aredis = redis.asyncio.Redis.from_url(s.redis_url, socket_connect_timeout=s.redis_timeout_s)
    app.state.job_watch = JobWatch(app.state.aredis, confirm_timeout_s=s.redis_timeout_s)
    app.state.limiter = RateLimiter(app.state.store.r, s.rate_limit_per_minute, s.rate_limit_burst)
    app.state.guess_limiter = RateLimiter(app.state.store.r, s.guess_rate_limit_per_minute,
                                          s.guess_rate_limit_burst, scope="guess")
    if s.s3_endpoint_url:
        app.state.storage = S3Storage.from_settings(s, connect_timeout=s.s3_connect_timeout_s,
                                                    read_timeout=s.s3_read_timeout_s, total_attempts=1)
        # no "Expect: 100-continue" wait before each upload's body (a frozen S3 costs it once more)
        from botocore.handlers import add_expect_header

        app.state.storage.client.meta.events.unregister("before-call.s3", add_expect_header)
    else:
        app.state.storage = get_storage(s)
    app.state.references = references if references is not None else \
        composition.reference_files(app.state.storage)
    app.state.decode_budget = DecodeBudget(s.decode_budget_bytes, s.decode_budget_wait_s)
    app.state.celery = make_celery(s)
    app.state.celery.conf.update(  # publishing: one attempt, short timeouts (the gateway answers 503)
        task_publish_retry=False, broker_connection_timeout=s.redis_timeout_s, broker_connection_retry=False,
        broker_connection_max_retries=0,
        broker_transport_options={**app.state.celery.conf.broker_transport_options,
                                  "socket_timeout": s.redis_timeout_s,
                                  "socket_connect_timeout": s.redis_timeout_s, "max_retries": 0})
    app.state.backpressure = Backpressure(app.state.celery, s)
    app.state.registry = make_registry(app.state.store)
    app.state.router = RouteCache(app.state.store.r, s.route_cache_s)  # canary routes (routing.py)
    errors.install(app)
    app.add_middleware(AllowHeader, fastapi_app=app)  # innermost: CORS preflights reach CORS first
    origins = [o.strip() for o in s.cors_origins.split(",") if o.strip()]
    if origins:  # otherwise same-origin only: no CORS headers, so browsers block other origins
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
                           expose_headers=["Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining"],
                           max_age=600)
    app.add_middleware(HeaderLimit)
    app.add_middleware(SecurityHeaders)  # the 431 gets the headers too
    app.add_middleware(AccessLogAfter)  # outermost: every answer is logged, once it is out
    app.include_router(api_router)
    openapi.install(app)
    docs.install(app, s.docs_enabled)
    if s.static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=s.static_dir, html=True), name="static")
    return app
