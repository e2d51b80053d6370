"""The search-result cache: JSON documents in storage (S3 in services, a folder embedded), with a TTL.

Only search results are kept (ids, hotlink URLs, names, links): never image bytes. Entries are keyed
by provider, query and request parameters. Expired entries stay until overwritten, so a provider that
is down or rate-limited can still serve what it answered before (``get`` says whether it is fresh).

Concurrent misses for one key make one upstream call: the fetch runs under a single-flight lock (a
Redis lock across workers, a file lock across processes on one machine), and whoever gets the lock
second finds the entry already written and makes no call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import filelock

from services.common.settings import CommonSettings, get_settings
from services.common.storage import LocalStorage, NotFound, Storage

from .settings import RecommenderSettings, get_recommender_settings

log = logging.getLogger(__name__)


class LockTimeout(TimeoutError):
    pass


class FileLock:
    """An exclusive lock on a file (the ``filelock`` package): holds across processes and threads."""

    def __init__(self, path: str | Path, timeout: float = 20.0):
        self.path, self.timeout = Path(path), timeout
        self._lock = filelock.FileLock(self.path, timeout=timeout)

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockTimeout(str(self.path)) from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


class RedisLock:
    """redis-py's token lock (SET NX PX + compare-and-delete), expiring by itself if a holder dies."""

    def __init__(self, client, name: str, timeout: float = 20.0):
        self._lock = client.lock(name, timeout=max(timeout * 2, 5.0), blocking_timeout=timeout, sleep=0.02)
        self.timeout = timeout

    def __enter__(self) -> RedisLock:
        if not self._lock.acquire():
            raise LockTimeout(self._lock.name)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
            self._lock.release()


LockFactory = Callable[[str], contextlib.AbstractContextManager]


def make_lock_factory(storage: Storage, settings: RecommenderSettings | None = None,
                      common: CommonSettings | None = None) -> LockFactory:
    """``factory(name)`` -> a context manager holding the single-flight lock called ``name``."""
    s = settings or get_recommender_settings()
    c = common or get_settings()
    kind = s.lock
    if kind == "auto":
        kind = "file" if isinstance(storage, LocalStorage) else "redis"
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(c.redis_url, socket_timeout=3, socket_connect_timeout=3)
        return lambda name: RedisLock(client, f"sketchref:lock:{name}", s.lock_timeout_s)
    if kind == "file":
        root = storage.root if isinstance(storage, LocalStorage) else Path(c.local_storage_dir)
        locks = Path(root).parent / "locks"
        return lambda name: FileLock(locks / f"{name}.lock", s.lock_timeout_s)
    return lambda name: contextlib.nullcontext()


@contextlib.contextmanager
def best_effort(lock: contextlib.AbstractContextManager):
    """Hold ``lock`` if it can be had; if the lock service fails, go on without it (never fail a job)."""
    try:
        lock.__enter__()
    except LockTimeout:
        log.warning("single-flight lock timed out; continuing without it")
        yield False
        return
    except Exception as exc:  # e.g. Redis unreachable
        log.warning("single-flight lock unavailable (%s); continuing without it", type(exc).__name__)
        yield False
        return
    try:
        yield True
    finally:
        lock.__exit__(None, None, None)


def cache_key(provider: str, query: str, params: dict[str, Any]) -> str:
    doc = json.dumps({"provider": provider, "query": " ".join(query.lower().split()), "params": params},
                     sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


class SearchCache:
    def __init__(self, storage: Storage, prefix: str = "cache/recommender", ttl_s: float = 7 * 24 * 3600,
                 lock_factory: LockFactory | None = None, clock: Callable[[], float] = time.time):
        self.storage, self.prefix, self.ttl_s = storage, prefix.rstrip("/"), ttl_s
        self.lock_factory = lock_factory or (lambda name: contextlib.nullcontext())
        self.clock = clock

    @classmethod
    def from_settings(cls, storage: Storage, settings: RecommenderSettings | None = None,
                      common: CommonSettings | None = None) -> SearchCache:
        s = settings or get_recommender_settings()
        return cls(storage, s.cache_prefix, s.cache_ttl_s,
                   make_lock_factory(storage, s, common))

    def _key(self, provider: str, key: str) -> str:
        return f"{self.prefix}/{provider}/{key}.json"

    def get(self, provider: str, key: str) -> tuple[dict | None, bool]:
        """(entry, fresh); (None, False) when absent or unreadable."""
        try:
            entry = json.loads(self.storage.get(self._key(provider, key)))
        except NotFound:
            return None, False
        except Exception as exc:  # unreadable entry or storage hiccup: treat as a miss
            log.warning("recommender cache read failed: %s", type(exc).__name__)
            return None, False
        fresh = self.clock() - float(entry.get("fetched_at", 0)) < self.ttl_s
        return entry, fresh

    def put(self, provider: str, key: str, entry: dict) -> None:
        entry = {**entry, "fetched_at": entry.get("fetched_at", self.clock())}
        data = json.dumps(entry, separators=(",", ":")).encode()  # JSON only: bytes would not serialise
        try:
            self.storage.put(self._key(provider, key), data, "application/json")
        except Exception as exc:
            log.warning("recommender cache write failed: %s", type(exc).__name__)

    def lock(self, provider: str, key: str):
        return best_effort(self.lock_factory(f"{provider}-{key}"))

    # Small shared state documents (e.g. a provider's back-off), beside the entries.
    def get_state(self, provider: str) -> dict:
        try:
            return json.loads(self.storage.get(f"{self.prefix}/{provider}/_state.json"))
        except Exception:
            return {}

    def put_state(self, provider: str, state: dict) -> None:
        try:
            self.storage.put(f"{self.prefix}/{provider}/_state.json", json.dumps(state).encode(), "application/json")
        except Exception as exc:
            log.warning("recommender state write failed: %s", type(exc).__name__)
