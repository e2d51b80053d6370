"""The OpenAPI document tells the whole truth: every status code, content type and error body.

Routes declare their success answers; :func:`install` adds, to every operation, the error answers the
gateway can give it (all with the ``{"error": {"code", "message"}}`` body, never FastAPI's default
validation schema), with ``Retry-After`` on 429 and 503. schemathesis checks the document against
the running gateway (``tests/gateway/test_gateway_schemathesis.py``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.core.contracts import ErrorBody

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 1}}}
_WHY = {
    400: "Bad input: empty body, invalid JSON or multipart, a truncated or corrupt image",
    401: "A valid API key is required (when keys are configured)",
    403: "Another client's job",
    404: "No such resource",
    409: "The job is not finished yet (pick a label once it has succeeded)",
    413: "Too large: body, pixels, aspect ratio, PNG chunks, strokes, points or rendering cost",
    415: "Not a PNG, JPEG or WebP image",
    422: "A field is invalid (the message names it)",
    429: "Over the per-client rate limit",
    431: "Request headers over 16 KB",
    502: "Unsplash did not accept the request",
    503: "A dependency is down or the server is saturated (queue_unavailable, storage_unavailable, "
         "no_worker, queue_full, server_busy, render_unavailable, not_ready)",
}
# Which errors each operation can answer, beyond 422 and 431 (every operation).
_ERRORS = {
    ("post", "/v1/jobs"): (400, 401, 413, 415, 429, 503),
    ("get", "/v1/jobs/{job_id}"): (401, 404, 503),
    ("delete", "/v1/jobs/{job_id}"): (401, 403, 404, 503),
    ("get", "/readyz"): (503,),
    ("post", "/v1/guess"): (400, 401, 413, 503),
    ("post", "/v1/jobs/{job_id}/objects/{index}/label"): (400, 401, 403, 404, 409, 503),
    ("get", "/v1/version"): (503,),
    ("get", "/v1/gallery/{image_id}"): (404, 503),
    ("get", "/v1/gallery/{image_id}/thumb"): (404, 503),
    ("post", "/v1/references/unsplash/{photo_id}/download"): (400, 401, 404, 502, 503),
}
_CONTENT = {  # success bodies that are not JSON
    ("get", "/metrics"): {"text/plain": {"schema": {"type": "string"}}},
    ("get", "/v1/gallery/{image_id}"): {f"image/{t}": {"schema": {"type": "string", "format": "binary"}}
                                        for t in ("jpeg", "png", "webp")},
    ("get", "/v1/gallery/{image_id}/thumb"): {f"image/{t}": {"schema": {"type": "string", "format": "binary"}}
                                              for t in ("jpeg", "png", "webp")},
}


# Path parameters' shapes (a path that does not match is a 400 or 404, as before; now documented).
_PATTERNS = {"job_id": "^[0-9a-f]{32}$", "image_id": "^[0-9a-f]{16}$", "photo_id": "^[A-Za-z0-9_-]{1,64}$"}


def _document(schema: dict) -> dict:
    schema.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items():
        schema["components"]["schemas"][name] = sub
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body.pop("$defs", None)
    schema["components"]["schemas"]["ErrorBody"] = body
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                if param.get("in") == "path" and param["name"] in _PATTERNS:
                    param["schema"]["pattern"] = _PATTERNS[param["name"]]
            responses = op.setdefault("responses", {})
            for status in (*_ERRORS.get((method, path), ()), 422, 431):
                entry = {"description": _WHY[status], "content": err}
                if status in (429, 503):
                    entry["headers"] = _RETRY_AFTER
                responses[str(status)] = entry
            if (method, path) in _CONTENT:
                ok = next(k for k in responses if k.startswith("2"))
                responses[ok]["content"] = _CONTENT[(method, path)]
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _document(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi
