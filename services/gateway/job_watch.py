"""Long polls share one Redis subscription per gateway process.

A long poll (``GET /v1/jobs/{id}?wait=``) waits for the job's change messages
(:func:`services.common.job_store.changed_channel`). Opening a subscription per poll cost every job a
fresh Redis connection (connect, handshake, SUBSCRIBE, UNSUBSCRIBE, close) in the gateway and in
Redis. Here one connection carries every poll's channel: a poll adds its channel (SUBSCRIBE, once
per job however many polls wait on it) and takes it away when it ends; one listener task hands each
message to the queues of the polls waiting on that channel.

- :meth:`JobWatch.watch` returns once Redis has *confirmed* the subscription, so a change published
  after it cannot be missed (the caller reads the job only then).
- If the connection fails, every waiting poll gets the error (a ``503`` as before), and the next poll
  opens a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("sketchref.gateway")


class JobWatch:
    def __init__(self, aredis, confirm_timeout_s: float = 2.0) -> None:
        self.aredis = aredis
        self.confirm_timeout_s = confirm_timeout_s
        self._pubsub = None
        self._listener: asyncio.Task | None = None
        self._waiters: dict[bytes, set[asyncio.Queue]] = {}
        self._confirmed: dict[bytes, asyncio.Future] = {}  # per channel: done when Redis confirmed it
        self._lock = asyncio.Lock()
        self._own = f"sketchref:gateway:{uuid.uuid4().hex}".encode()  # keeps the connection subscribed

    @contextlib.asynccontextmanager
    async def watch(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        """A queue of the messages published on ``channel`` (bytes), or of the exception that ended the
        subscription; subscribed (confirmed by Redis) before this returns."""
        key, q = channel.encode(), asyncio.Queue()
        await self._add(key, q)
        try:
            yield q
        finally:
            await self._remove(key, q)

    async def _add(self, key: bytes, q: asyncio.Queue) -> None:
        async with self._lock:
            if self._pubsub is None:
                await self._open()
            self._waiters.setdefault(key, set()).add(q)
            confirmed = self._confirmed.get(key)
            if confirmed is None:  # the first poll of this job: subscribe
                confirmed = self._confirmed[key] = asyncio.get_running_loop().create_future()
                try:
                    await self._pubsub.subscribe(key)
                except Exception:
                    self._waiters.pop(key, None)
                    self._confirmed.pop(key, None)
                    raise
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), self.confirm_timeout_s)
        except TimeoutError as exc:
            await self._remove(key, q)
            raise RedisTimeoutError("Redis did not confirm a subscription") from exc
        except BaseException:
            await self._remove(key, q)
            raise

    async def _remove(self, key: bytes, q: asyncio.Queue) -> None:
        async with self._lock:
            waiting = self._waiters.get(key)
            if waiting is None or q not in waiting:
                return
            waiting.discard(q)
            if waiting or self._pubsub is None:
                return
            del self._waiters[key]
            self._confirmed.pop(key, None)
            try:
                await self._pubsub.unsubscribe(key)
            except Exception as exc:  # the listener sees the broken connection and resets
                log.debug("unsubscribe failed: %s", type(exc).__name__)

    async def _open(self) -> None:
        self._pubsub = self.aredis.pubsub()
        await self._pubsub.subscribe(self._own)
        self._listener = asyncio.create_task(self._listen(self._pubsub), name="job-watch")

    async def _listen(self, pubsub) -> None:
        try:
            while True:
                msg = await pubsub.get_message(timeout=5.0)
                if msg is None:
                    continue
                kind, channel = msg["type"], msg["channel"]
                if kind == "message":
                    for q in self._waiters.get(channel, ()):
                        q.put_nowait(msg["data"])
                elif kind == "subscribe":
                    f = self._confirmed.get(channel)
                    if f is not None and not f.done():
                        f.set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("job watch connection lost: %s", type(exc).__name__)
            await self._reset(pubsub, exc if isinstance(exc, RedisConnectionError | RedisTimeoutError)
                              else RedisConnectionError(str(exc)))

    async def _reset(self, pubsub, exc: Exception) -> None:
        """Hand ``exc`` to every waiting poll and drop the connection; the next poll opens another."""
        async with self._lock:
            if self._pubsub is pubsub:
                self._pubsub, self._listener = None, None
            for queues in self._waiters.values():
                for q in queues:
                    q.put_nowait(exc)
            self._waiters.clear()
            for f in self._confirmed.values():
                if not f.done():
                    f.set_exception(exc)
                    f.exception()  # retrieved: no "never retrieved" warning when no poll awaits it
            self._confirmed.clear()
        with contextlib.suppress(Exception):
            await pubsub.aclose()

    async def close(self) -> None:
        listener, pubsub = self._listener, self._pubsub
        self._listener = self._pubsub = None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
