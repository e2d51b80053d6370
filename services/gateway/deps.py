"""Dependencies of the routes, as ``Annotated`` aliases (the clients live on ``app.state``).

``create_app`` builds the clients once per app from its settings; nothing is created at import time,
so tests build apps with their own settings. The dependencies are ``async``: none of them blocks (the
rate limiter's Redis call goes to a thread when it is on), and FastAPI would otherwise run each plain
function in a worker thread, a hand-off per dependency per request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError

from services.common.idempotency import IdempotencyKeys
from services.common.job_store import JobStore

from .errors import ApiError
from .settings import GatewaySettings

log = logging.getLogger("sketchref.gateway")


async def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


async def get_store(request: Request) -> JobStore:
    return request.app.state.store


async def get_idempotency(request: Request) -> IdempotencyKeys:
    return request.app.state.idempotency


async def get_storage(request: Request):
    return request.app.state.storage


async def get_celery(request: Request):
    return request.app.state.celery


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
IdempotencyDep = Annotated[IdempotencyKeys, Depends(get_idempotency)]
StorageDep = Annotated[object, Depends(get_storage)]
CeleryDep = Annotated[object, Depends(get_celery)]


async def require_api_key(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The caller's key id ("" when auth is off); 401 when keys are configured and none matches.

    Every configured key is compared, in constant time, so timing says nothing about which or how
    much matched. The returned id is a hash prefix: it scopes Idempotency-Keys, never logs the key.
    """
    keys = settings.api_key_list()
    if not keys:
        return ""
    given = ""
    if authorization and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    elif x_api_key:
        given = x_api_key.strip()
    given_b = given.encode()
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given_b, k)
    if not given or not ok:
        raise ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer <key>)",
                       headers={"WWW-Authenticate": "Bearer"})
    return hashlib.sha256(given_b).hexdigest()[:16]


ApiKeyDep = Annotated[str, Depends(require_api_key)]


async def client_id(request: Request, key_scope: ApiKeyDep) -> str:
    """Who is calling: ``key:<key id>`` when auth is on, else ``ip:<address>`` (the real client's
    address: behind a trusted proxy, uvicorn has already taken it from X-Forwarded-For). It scopes
    the rate limit, Idempotency-Keys and who may delete a job."""
    if key_scope:
        return f"key:{key_scope}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


ClientDep = Annotated[str, Depends(client_id)]


async def _rate_limit(request: Request, response: Response, client: str, limiter, what: str) -> None:
    """Count this request against the caller's limit; 429 ``rate_limited`` with ``Retry-After``
    when it is over. Runs before the body is read, so a refused request costs no parsing and makes
    no job. Redis being down is a 503 ``queue_unavailable`` at once."""
    if not limiter.enabled:
        return
    try:
        d = await run_in_threadpool(limiter.check, client)
    except RedisError as exc:  # no job can be stored either: say so now, not after more timeouts
        log.warning("rate limit not checked: Redis unreachable (%s)", type(exc).__name__)
        raise ApiError(503, "queue_unavailable", "the job store is unreachable; try again",
                       headers={"Retry-After": str(request.app.state.settings.outage_retry_after_s)}) from exc
    if not d.allowed:
        raise ApiError(429, "rate_limited",
                       f"too many {what}: at most {d.limit} a minute; try again in {d.retry_after_s} s",
                       headers={"Retry-After": str(d.retry_after_s), "RateLimit-Limit": str(d.limit),
                                "RateLimit-Remaining": "0"})
    response.headers["RateLimit-Limit"] = str(d.limit)
    response.headers["RateLimit-Remaining"] = str(d.remaining)


async def rate_limit_jobs(request: Request, response: Response, client: ClientDep) -> None:
    """Submissions and label picks (each queues work): ``rate_limit_per_minute`` per client."""
    await _rate_limit(request, response, client, request.app.state.limiter, "sketches")


async def rate_limit_guesses(request: Request, response: Response, client: ClientDep) -> None:
    """Live guesses (one per stroke while drawing): ``guess_rate_limit_per_minute`` per client, a
    limit of their own so that drawing never uses up the submissions' allowance."""
    await _rate_limit(request, response, client, request.app.state.guess_limiter, "guesses")


RateLimitDep = Annotated[None, Depends(rate_limit_jobs)]
GuessRateLimitDep = Annotated[None, Depends(rate_limit_guesses)]
