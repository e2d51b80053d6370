"""Long polls share one subscription (services/gateway/job_watch.py), on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis
import redis.asyncio

from services.gateway.job_watch import JobWatch
from tests.services.stack import redis_url  # noqa: F401


def _pubsub_clients(r) -> int:
    return sum(1 for c in r.client_list() if "S" in c.get("flags", "") or c.get("sub", "0") != "0")


@contextlib.asynccontextmanager
async def _job_watch(url: str, timeout_s: float | None = None):
    """A JobWatch on its own async client (``timeout_s``: to connect and to confirm), closed with it."""
    aredis = redis.asyncio.Redis.from_url(url, socket_connect_timeout=timeout_s)
    watch = JobWatch(aredis, **({"confirm_timeout_s": timeout_s} if timeout_s else {}))
    try:
        yield watch
    finally:
        await watch.close()
        await aredis.aclose()


def test_polls_share_one_connection_and_each_gets_its_jobs_messages(redis_url):  # noqa: F811
    sync = redis.Redis.from_url(redis_url)

    async def scenario():
        async with _job_watch(redis_url) as watch:
            async with watch.watch("chan:a") as a1, watch.watch("chan:a") as a2, watch.watch("chan:b") as b:
                # confirmed before watch() returned: a message published now reaches the polls
                assert sync.pubsub_numsub("chan:a", "chan:b") == [(b"chan:a", 1), (b"chan:b", 1)]
                assert _pubsub_clients(sync) == 1
                sync.publish("chan:a", b"done-a")
                sync.publish("chan:b", b"done-b")
                got = [await asyncio.wait_for(q.get(), 2) for q in (a1, a2, b)]
                assert got == [b"done-a", b"done-a", b"done-b"]
                assert a1.empty() and b.empty()
            assert sync.pubsub_numsub("chan:a", "chan:b") == [(b"chan:a", 0), (b"chan:b", 0)]
            for i in range(20):  # a poll after another: still the one connection
                async with watch.watch(f"chan:{i}"):
                    pass
            assert _pubsub_clients(sync) == 1

    asyncio.run(scenario())


def test_a_lost_connection_reaches_the_waiting_poll_and_the_next_poll_reconnects(redis_url):  # noqa: F811
    sync = redis.Redis.from_url(redis_url)

    async def scenario():
        async with _job_watch(redis_url) as watch:
            async with watch.watch("chan:lost") as q:
                sync.client_kill_filter(_type="pubsub")
                err = await asyncio.wait_for(q.get(), 10)
                assert isinstance(err, redis.exceptions.ConnectionError)
            async with watch.watch("chan:again") as q:
                sync.publish("chan:again", b"x")
                assert await asyncio.wait_for(q.get(), 2) == b"x"

    asyncio.run(scenario())


def test_an_unreachable_redis_fails_the_poll_fast():
    async def scenario():
        async with _job_watch("redis://127.0.0.1:1/0", timeout_s=0.5) as watch:
            with pytest.raises(redis.exceptions.ConnectionError):
                async with watch.watch("chan:x"):
                    pass

    asyncio.run(scenario())
