"""Dependencies of the routes, as ``Annotated`` aliases (the clients live on ``app.state``).

``create_app`` builds the clients once per app from its settings; nothing is created at import time,
so tests build apps with their own settings.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.jobs import JobStore

from .errors import ApiError
from .settings import GatewaySettings


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def get_store(request: Request) -> JobStore:
    return request.app.state.store


def get_storage(request: Request):
    return request.app.state.storage


def get_celery(request: Request):
    return request.app.state.celery


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
StorageDep = Annotated[object, Depends(get_storage)]
CeleryDep = Annotated[object, Depends(get_celery)]


def require_api_key(
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
