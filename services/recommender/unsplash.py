"""Unsplash references, by Unsplash's API guidelines.

- Search: ``GET /search/photos?query=<label>&per_page=<k>&content_filter=high`` with
  ``Authorization: Client-ID <access key>`` and ``Accept-Version: v1``.
- Hotlinking: a reference's ``url``/``thumb_url`` are the photo's own ``urls.regular``/``urls.thumb``;
  image bytes are never fetched, copied or stored (the cache holds the search JSON only).
- Attribution: ``author`` is the photographer's name, ``author_url`` their Unsplash profile and
  ``source_url`` the photo's page, both with ``utm_source=<app name>&utm_medium=referral``.
- Downloads: ``download_location`` rides along in the reference; when a user picks a photo the gateway
  calls :meth:`UnsplashClient.track_download` with the key, server-side.
- Rate limits: ``X-Ratelimit-Remaining`` is read on every answer; at the reserve (default 0), and on a
  403 "Rate Limit Exceeded", no call is made until the next hour. 429, 5xx and network errors back off
  exponentially. Meanwhile the cache (even expired entries) or the local gallery answers: a job never
  fails because of Unsplash.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from services.common.worker_metrics import cache_lookup, unsplash_request
from services.core.contracts import Reference

from .cache import SearchCache, cache_key
from .settings import RecommenderSettings, get_recommender_settings

log = logging.getLogger(__name__)

PHOTO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HOUR_S = 3600.0


class UnsplashError(Exception):
    def __init__(self, status: int, message: str, remaining: int | None = None):
        super().__init__(f"Unsplash answered {status}: {message}")
        self.status, self.message, self.remaining = status, message, remaining


def with_utm(url: str, app_name: str) -> str:
    """``url`` with ``utm_source=<app>&utm_medium=referral`` (replacing any earlier utm values)."""
    if not url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("utm_source", "utm_medium")]
    query += [("utm_source", app_name), ("utm_medium", "referral")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _remaining(headers: httpx.Headers) -> int | None:
    try:
        return int(headers.get("X-Ratelimit-Remaining", ""))
    except ValueError:
        return None


class UnsplashClient:
    """The two calls sketchref makes. ``transport`` is injectable (tests, proxies)."""

    def __init__(self, access_key: str | SecretStr, api_url: str = "https://api.unsplash.com",
                 timeout: float = 6.0, transport: httpx.BaseTransport | None = None):
        key = access_key.get_secret_value() if isinstance(access_key, SecretStr) else access_key
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Client-ID {key}", "Accept-Version": "v1"})

    def close(self) -> None:
        self._http.close()

    def _check(self, r: httpx.Response) -> int | None:
        unsplash_request("search" if r.request.url.path.endswith("/search/photos") else "download", r.status_code)
        remaining = _remaining(r.headers)
        if r.status_code >= 400:
            try:
                body = r.json()
                message = "; ".join(body.get("errors") or []) or r.reason_phrase
            except Exception:
                message = (r.text or r.reason_phrase)[:200]
            raise UnsplashError(r.status_code, message, remaining)
        return remaining

    def search_photos(self, query: str, per_page: int = 10, content_filter: str = "high") -> tuple[dict, int | None]:
        """The search answer (``total``, ``total_pages``, ``results``) and the calls left this hour."""
        r = self._http.get("/search/photos", params={"query": query, "per_page": per_page,
                                                      "content_filter": content_filter})
        remaining = self._check(r)
        return r.json(), remaining

    def download_url(self, photo_id: str, download_location: str | None = None) -> str:
        """The tracking URL: the photo's ``download_location`` when it points at this API, else built."""
        if not PHOTO_ID.match(photo_id):
            raise ValueError("bad photo id")
        if download_location:
            loc, api = urlsplit(download_location), urlsplit(self.api_url)
            if (loc.scheme, loc.netloc) == (api.scheme, api.netloc) and \
                    loc.path.rstrip("/") == f"{api.path.rstrip('/')}/photos/{photo_id}/download":
                return download_location
        return f"{self.api_url}/photos/{photo_id}/download"

    def track_download(self, photo_id: str, download_location: str | None = None) -> dict:
        """Trigger the photo's download event (the guidelines' 'download' when a user picks it)."""
        r = self._http.get(self.download_url(photo_id, download_location))
        self._check(r)
        return r.json()


def slim(photo: dict) -> dict:
    """What the cache keeps of one search result: ids, hotlink URLs, names and links. JSON only."""
    user = photo.get("user") or {}
    return {
        "id": str(photo.get("id", "")),
        "urls": {k: v for k, v in (photo.get("urls") or {}).items() if isinstance(v, str)},
        "links": {k: (photo.get("links") or {}).get(k, "") for k in ("html", "download_location")},
        "user": {"name": user.get("name") or user.get("username") or "", "username": user.get("username", ""),
                 "links": {"html": (user.get("links") or {}).get("html", "")}},
        "alt_description": photo.get("alt_description") or "",
        "width": photo.get("width"), "height": photo.get("height"),
    }


def to_reference(photo: dict, app_name: str) -> Reference | None:
    urls = photo.get("urls") or {}
    url = urls.get("regular") or urls.get("full") or urls.get("small")
    if not photo.get("id") or not url:
        return None
    user = photo.get("user") or {}
    profile = (user.get("links") or {}).get("html") or (
        f"https://unsplash.com/@{user['username']}" if user.get("username") else "")
    page = (photo.get("links") or {}).get("html") or f"https://unsplash.com/photos/{photo['id']}"
    return Reference(provider="unsplash", id=photo["id"], url=url,
                     thumb_url=urls.get("thumb") or urls.get("small") or url,
                     author=user.get("name") or user.get("username") or "",
                     author_url=with_utm(profile, app_name), source_url=with_utm(page, app_name),
                     download_location=(photo.get("links") or {}).get("download_location") or None)


class UnsplashProvider:
    """Unsplash search through the cache, falling back to ``fallback`` (the local gallery)."""

    name = "unsplash"

    def __init__(self, client: UnsplashClient, cache: SearchCache, fallback=None,
                 settings: RecommenderSettings | None = None, clock=time.time):
        self.client, self.cache, self.fallback = client, cache, fallback
        self.settings = settings or get_recommender_settings()
        self.clock = clock
        self._until = 0.0  # this process's view of the shared back-off
        self.calls = 0  # API calls made by this provider (for logs and tests)

    def recommend(self, label: str, n: int = 6, crop=None) -> list[Reference]:
        if n <= 0 or not label:
            return []
        try:
            refs = self._recommend(label, n)
        except Exception as exc:  # whatever happens upstream, the job still gets references
            log.warning("Unsplash references unavailable for %r (%s); using the fallback", label,
                        type(exc).__name__)
            refs = []
        if refs:
            return refs
        return self.fallback.recommend(label, n, crop) if self.fallback is not None else []

    def _refs(self, entry: dict, n: int) -> list[Reference]:
        refs = (to_reference(p, self.settings.unsplash_app_name) for p in entry.get("results", []))
        return [r for r in refs if r is not None][:n]

    def _recommend(self, label: str, n: int) -> list[Reference]:
        query = " ".join(label.split())
        params = {"per_page": min(30, max(n, self.settings.unsplash_per_page)), "content_filter": "high"}
        key = cache_key(self.name, query, params)
        entry, fresh = self.cache.get(self.name, key)
        cache_lookup("hit" if fresh else "stale" if entry else "miss")
        if fresh:
            return self._refs(entry, n)
        if self._backing_off():
            return self._refs(entry, n) if entry else []
        with self.cache.lock(self.name, key):
            entry, fresh = self.cache.get(self.name, key)  # filled by whoever held the lock before us
            if fresh:
                return self._refs(entry, n)
            if self._backing_off():
                return self._refs(entry, n) if entry else []
            try:
                self.calls += 1
                body, remaining = self.client.search_photos(query, params["per_page"], params["content_filter"])
            except (UnsplashError, httpx.HTTPError) as exc:
                if isinstance(exc, httpx.HTTPError):
                    unsplash_request("search", "error")
                self._failed(exc)
                return self._refs(entry, n) if entry else []
            new = {"provider": self.name, "query": query, "params": params, "total": body.get("total", 0),
                   "results": [slim(p) for p in body.get("results", [])], "fetched_at": self.clock()}
            self.cache.put(self.name, key, new)
            self._succeeded(remaining)
            return self._refs(new, n)

    # ---- back-off, shared through the cache's state document --------------------------------------
    def _backing_off(self) -> bool:
        now = self.clock()
        if now < self._until:
            return True
        self._until = float(self.cache.get_state(self.name).get("backoff_until", 0.0))
        return now < self._until

    def _back_off(self, seconds: float, failures: int, reason: str) -> None:
        self._until = self.clock() + seconds
        self.cache.put_state(self.name, {"backoff_until": self._until, "failures": failures, "reason": reason})
        log.warning("Unsplash: %s; no calls for %.0f s (cache and local gallery answer meanwhile)", reason, seconds)

    def _next_hour(self) -> float:
        now = self.clock()
        return HOUR_S - (now % HOUR_S) + 5.0

    def _succeeded(self, remaining: int | None) -> None:
        if remaining is not None and remaining <= self.settings.unsplash_reserve:
            self._back_off(self._next_hour(), 0, f"rate limit reached ({remaining} calls left this hour)")
        elif self.cache.get_state(self.name).get("failures"):
            self.cache.put_state(self.name, {"backoff_until": 0.0, "failures": 0})

    def _failed(self, exc: Exception) -> None:
        failures = int(self.cache.get_state(self.name).get("failures", 0)) + 1
        status = exc.status if isinstance(exc, UnsplashError) else 0
        if status == 403 or (isinstance(exc, UnsplashError) and exc.remaining == 0):
            self._back_off(self._next_hour(), failures, f"{status}: {getattr(exc, 'message', '')}")
        elif status == 401:
            self._back_off(HOUR_S, failures, "401: the access key was refused")
        else:
            seconds = min(HOUR_S, self.settings.unsplash_backoff_s * 2 ** (failures - 1))
            self._back_off(seconds, failures, f"{status or type(exc).__name__} from the API")
