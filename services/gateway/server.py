"""How uvicorn runs the gateway: request-head limit (431), and proxy headers only from trusted hops.

- :class:`H11Protocol431`: uvicorn's h11 protocol with the request head (request line + headers)
  capped at :data:`MAX_HEADER_BYTES`; a longer head is answered ``431 Request Header Fields Too
  Large`` with the API's JSON error body, and the connection closed, without buffering the rest
  (uvicorn's own answer to it is a plain-text 400; httptools has no limit at all).
- uvicorn's access line is written after the response has gone out (:class:`AccessLogAfter`, an ASGI
  middleware), not before its first byte as uvicorn writes it: on this 2-core machine, writing it
  and waking the log collector while the answer was on its way delayed the answer.
- :func:`uvicorn_options`: ``X-Forwarded-For``/``-Proto`` are believed only from the addresses in
  ``SKETCHREF_FORWARDED_ALLOW_IPS`` (the ingress, a compose proxy); by default from nobody, so a
  client cannot choose its own address for the rate limit or its idempotency keys.
"""

from __future__ import annotations

import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

MAX_HEADER_BYTES = 16 * 1024


class _Connection(h11.Connection):
    """h11's connection, remembering why the request could not be read."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self):
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class H11Protocol431(H11Protocol):
    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.conn = _Connection(h11.SERVER, config.h11_max_incomplete_event_size or MAX_HEADER_BYTES)
        self.access_log = False  # AccessLogAfter writes the line, once the response is out

    def send_400_response(self, msg: str) -> None:
        err = getattr(self.conn, "last_error", None)
        if err is None or getattr(err, "error_status_hint", 400) != 431:
            return super().send_400_response(msg)
        body = json.dumps({"error": {"code": "headers_too_large",
                                     "message": f"the request headers are over {MAX_HEADER_BYTES} bytes"}}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                   (b"content-length", str(len(body)).encode())]
        for event in (h11.Response(status_code=431, headers=headers, reason=b"Request Header Fields Too Large"),
                      h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


class AccessLogAfter:
    """uvicorn's access line (its logger, format and arguments), written once the response's last body
    part has been handed to the server. Installed by ``create_app``; uvicorn's own line is off under
    :class:`H11Protocol431` (another server keeps its own and gets this one too)."""

    def __init__(self, app):
        self.app = app
        self.logger = logging.getLogger("uvicorn.access")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.logger.hasHandlers():
            return await self.app(scope, receive, send)
        status = [0]

        async def send_then_log(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
                                 get_path_with_query_string(scope), scope["http_version"], status[0])

        await self.app(scope, receive, send_then_log)


def uvicorn_options(forwarded_allow_ips: str) -> dict:
    """Keyword arguments for ``uvicorn.run`` (see the module docstring)."""
    ips = ",".join(p.strip() for p in forwarded_allow_ips.split(",") if p.strip())
    return {"http": H11Protocol431, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
            "proxy_headers": bool(ips), "forwarded_allow_ips": ips or None, "server_header": False}
