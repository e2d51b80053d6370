"""Every error the gateway answers is JSON ``{"error": {"code", "message"}}``; never a stack trace.

A dependency that is down is a 503 with ``Retry-After``, whatever route met it: Redis
(``queue_unavailable``) or S3 (``storage_unavailable``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("sketchref.gateway")

_DEFAULT_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                  415: "unsupported_media_type", 422: "invalid_request", 503: "unavailable"}


def _is_storage_error(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    from services.common.s3_signed import StorageRefused, StorageUnavailable

    return isinstance(exc, BotoCoreError | ClientError | StorageUnavailable | StorageRefused)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else _DEFAULT_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, _DEFAULT_CODES.get(exc.status_code, "error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}".strip(": "))

    from redis.exceptions import RedisError

    retry_after = {"Retry-After": str(app.state.settings.outage_retry_after_s)}

    @app.exception_handler(RedisError)
    async def _redis_down(request: Request, exc: RedisError):
        log.warning("Redis unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(503, "queue_unavailable", "the job store is unreachable; try again", retry_after)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if _is_storage_error(exc):
            log.warning("S3 unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            return error_response(503, "storage_unavailable", "the sketch store is unreachable; try again",
                                  retry_after)
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(500, "internal_error", "internal error")
