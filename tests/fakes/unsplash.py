"""A stand-in for the Unsplash API on loopback: real HTTP, the real paths, JSON shapes, headers, errors.

Modelled on https://unsplash.com/documentation (``GET /search/photos``, ``GET /photos/:id/download``):

- ``Authorization: Client-ID <key>`` required; a missing or wrong key is ``401``
  ``{"errors": ["OAuth error: The access token is invalid"]}``.
- every answer carries ``X-Ratelimit-Limit`` (50, the demo limit) and ``X-Ratelimit-Remaining``; a
  search when none remain is ``403`` with the body ``Rate Limit Exceeded`` (plain text, as Unsplash).
- search answers ``{"total", "total_pages", "results": [photo, ...]}`` where a photo has ``id``,
  ``urls{raw,full,regular,small,thumb,small_s3}``, ``links{self,html,download,download_location}``,
  ``user{id,username,name,links{self,html,photos,likes,portfolio},profile_image}``,
  ``alt_description``, ``description``, ``width``, ``height``, ``color``, ``blur_hash``, ``likes``.
- ``/photos/:id/download`` answers ``{"url": ...}`` for ids it has served, else ``404``.

It counts calls (``search_calls``, ``download_calls``) under a lock; ``fail_with`` makes the next N
searches answer a given status (5xx, 429). The server never serves image bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = "fake-access-key"
IMG = "https://images.unsplash.com"


def _photo(query: str, i: int, api: str) -> dict:
    pid = hashlib.sha1(f"{query}/{i}".encode()).hexdigest()[:11].replace("a", "A")
    base = f"{IMG}/photo-{1500000000000 + i}-{pid}?ixid=M3w{pid}&ixlib=rb-4.0.3"
    user = f"{query.replace(' ', '')[:12]}_{i}".lower()
    return {
        "id": pid, "slug": f"{query.replace(' ', '-')}-{pid}", "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-02T10:00:00Z", "promoted_at": None, "width": 4000, "height": 3000,
        "color": "#c0c0c0", "blur_hash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj", "description": None,
        "alt_description": f"a photo of a {query}", "breadcrumbs": [],
        "urls": {"raw": base, "full": f"{base}&q=85&fm=jpg&crop=entropy&cs=srgb",
                 "regular": f"{base}&q=80&w=1080", "small": f"{base}&q=80&w=400",
                 "thumb": f"{base}&q=80&w=200", "small_s3": f"https://s3.us-west-2.amazonaws.com/images.unsplash.com/small/photo-{pid}"},
        "links": {"self": f"{api}/photos/{pid}", "html": f"https://unsplash.com/photos/{pid}",
                  "download": f"https://unsplash.com/photos/{pid}/download?ixid=M3w{pid}",
                  "download_location": f"{api}/photos/{pid}/download?ixid=M3w{pid}"},
        "likes": 10 + i, "liked_by_user": False, "current_user_collections": [], "sponsorship": None,
        "topic_submissions": {}, "asset_type": "photo",
        "user": {"id": f"u{pid}", "updated_at": "2024-05-02T10:00:00Z", "username": user,
                 "name": f"Photographer {i} of {query}", "first_name": "Photographer", "last_name": f"{i}",
                 "twitter_username": None, "portfolio_url": None, "bio": None, "location": None,
                 "links": {"self": f"{api}/users/{user}", "html": f"https://unsplash.com/@{user}",
                           "photos": f"{api}/users/{user}/photos", "likes": f"{api}/users/{user}/likes",
                           "portfolio": f"{api}/users/{user}/portfolio"},
                 "profile_image": {s: f"{IMG}/profile-{pid}?w={w}" for s, w in
                                   (("small", 32), ("medium", 64), ("large", 128))},
                 "total_photos": 42, "accepted_tos": True},
        "tags": [{"type": "search", "title": query}],
    }


class FakeUnsplash:
    def __init__(self, key: str = KEY, limit: int = 50, latency_s: float = 0.0, totals: dict | None = None):
        self.key, self.limit, self.remaining = key, limit, limit
        self.latency_s = latency_s
        self.totals = totals or {}  # query -> number of matching photos (default 25)
        self.search_calls: list[str] = []
        self.download_calls: list[str] = []
        self.unauthorized = 0
        self.served: set[str] = set()
        self._fail: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- control --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_with(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._fail += [status] * times

    def exhaust(self) -> None:
        with self._lock:
            self.remaining = 0

    def start(self) -> FakeUnsplash:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # ---- the API --------------------------------------------------------------------------------
    def _send(self, h, status: int, body, content_type: str = "application/json") -> None:
        data = (json.dumps(body) if content_type == "application/json" else body).encode()
        h.send_response(status)
        h.send_header("Content-Type", f"{content_type}; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("X-Ratelimit-Limit", str(self.limit))
        h.send_header("X-Ratelimit-Remaining", str(max(self.remaining, 0)))
        h.send_header("Accept-Version", "v1")
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h) -> None:
        url = urlsplit(h.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if h.headers.get("Authorization") != f"Client-ID {self.key}":
            with self._lock:
                self.unauthorized += 1
            return self._send(h, 401, {"errors": ["OAuth error: The access token is invalid"]})
        parts = [p for p in url.path.split("/") if p]
        if parts == ["search", "photos"]:
            return self._search(h, q)
        if len(parts) == 3 and parts[0] == "photos" and parts[2] == "download":
            with self._lock:
                self.download_calls.append(parts[1])
                known = parts[1] in self.served
            if not known:
                return self._send(h, 404, {"errors": ["Couldn't find Photo"]})
            return self._send(h, 200, {"url": f"{IMG}/photo-{parts[1]}?ixid=M3w{parts[1]}&fm=jpg"})
        return self._send(h, 404, {"errors": ["Couldn't find that route"]})

    def _search(self, h, q: dict) -> None:
        with self._lock:
            self.search_calls.append(q.get("query", ""))
            if self.remaining <= 0:
                status = 403
            else:
                self.remaining -= 1
                status = self._fail.pop(0) if self._fail else 200
        if self.latency_s:
            time.sleep(self.latency_s)
        if status == 403:
            return self._send(h, 403, "Rate Limit Exceeded", "text/plain")
        if status != 200:
            return self._send(h, status, {"errors": ["Something went wrong"]})
        query = q.get("query", "").strip()
        if not query:
            return self._send(h, 400, {"errors": ["query is missing"]})
        try:
            per_page = min(max(int(q.get("per_page", 10)), 1), 30)
            page = max(int(q.get("page", 1)), 1)
        except ValueError:
            return self._send(h, 400, {"errors": ["per_page and page must be numbers"]})
        total = self.totals.get(query, 25)
        start = (page - 1) * per_page
        results = [_photo(query, i, self.url) for i in range(start, min(start + per_page, total))]
        with self._lock:
            self.served.update(p["id"] for p in results)
        self._send(h, 200, {"total": total, "total_pages": math.ceil(total / per_page), "results": results})
