"""Pure-ASGI middleware of the gateway: the request-head limit, and headers on every response.

- :class:`HeaderLimit`: a request whose head (request line and headers) is over
  :data:`~services.gateway.server.MAX_HEADER_BYTES` is answered 431 with the API's JSON error.
  uvicorn's h11 parser (see ``server.py``) stops heads that arrive in pieces at the same size without
  buffering them; this catches a complete head that arrived in one read, and any other server.
"""

from __future__ import annotations

import json

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
