"""Pure-ASGI middleware of the gateway: the request-head limit, and headers on every response.

- :class:`HeaderLimit`: a request whose head (request line and headers) is over
  :data:`~services.gateway.server.MAX_HEADER_BYTES` is answered 431 with the API's JSON error.
  uvicorn's h11 parser (see ``server.py``) stops heads that arrive in pieces at the same size without
  buffering them; this catches a complete head that arrived in one read, and any other server.
- :class:`SecurityHeaders`: a Content-Security-Policy without ``unsafe-inline`` that the app at ``/``
  satisfies, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
  ``X-Frame-Options: DENY`` on every response.
- CORS (``main.py``): same-origin only unless ``SKETCHREF_GATEWAY_CORS_ORIGINS`` lists origins.
"""

from __future__ import annotations

import json

from .api.routes.docs import DOCS_CSP
from .server import MAX_HEADER_BYTES


def _json_error(status: int, code: str, message: str) -> tuple[dict, dict]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


class HeaderLimit:
    def __init__(self, app, limit: int = MAX_HEADER_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            size += sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
            if size > self.limit:
                start, body = _json_error(431, "headers_too_large",
                                          f"the request headers are over {self.limit} bytes")
                start["headers"].append((b"connection", b"close"))
                await send(start)
                await send(body)
                return
        await self.app(scope, receive, send)


# The app at / runs with no inline script or style attribute in its HTML (styles it sets from
# JavaScript go through the CSSOM, which CSP allows); photos come from the gallery here or Unsplash.
APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
           "img-src 'self' data: blob: https://images.unsplash.com https://plus.unsplash.com; "
           "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# The documentation pages and their assets get DOCS_CSP, defined beside them (nothing from a CDN).
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Content-Security-Policy, X-Content-Type-Options, Referrer-Policy and X-Frame-Options on every
    response (a route's own value wins); the documentation pages get :data:`DOCS_CSP`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = DOCS_CSP if scope["path"].startswith(DOCS_PATHS) else APP_CSP
        extra = [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                 (b"cross-origin-opener-policy", b"same-origin")]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AllowHeader:
    """A 405 lists in ``Allow`` exactly the methods the API has for that path (Starlette would name
    only the first matching route's, or the static files' GET, HEAD)."""

    def __init__(self, app, fastapi_app):
        self.app, self.fastapi_app = app, fastapi_app

    def allowed(self, path: str) -> list[str]:
        """The documented methods of the path (the OpenAPI document is the truth)."""
        if getattr(self, "_paths", None) is None:
            import re

            self._paths = [(re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(p)) + "$"),
                            sorted(m.upper() for m in ops))
                           for p, ops in self.fastapi_app.openapi().get("paths", {}).items()]
        for regex, methods in self._paths:
            if regex.match(path):
                return methods
        return []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        allowed = self.allowed(scope["path"])
        if allowed and scope["method"] not in allowed:  # not left to the static files' mount at /
            start, body = _json_error(405, "method_not_allowed",
                                      f"{scope['method']} is not allowed here; allowed: {', '.join(allowed)}")
            start["headers"].append((b"allow", ", ".join(allowed).encode()))
            await send(start)
            await send(body)
            return

        async def send_allow(message):
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.allowed(scope["path"])
                if allowed:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(allowed).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_allow)
