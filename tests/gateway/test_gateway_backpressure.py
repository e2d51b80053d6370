"""Backpressure against real gateways, workers and Redis: a queue without a live consumer, or one
deeper than the limit, makes ``POST /v1/jobs`` answer 503 with Retry-After at once; with workers
back, submissions are accepted again. Each test uses a Redis database of its own (its own queues)."""

from __future__ import annotations

import httpx
import pytest
import redis

from services.common.processes import wait_until
from tests.services.stack import start_gateway, start_worker

STROKES = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}


def _own_db(stack_env: dict, db: int) -> dict:
    url = stack_env["SKETCHREF_REDIS_URL"].rsplit("/", 1)[0] + f"/{db}"
    redis.Redis.from_url(url).flushdb()
    return dict(stack_env, SKETCHREF_REDIS_URL=url)


def _post(url):
    return httpx.post(url + "/v1/jobs", json=STROKES, timeout=30)


def test_no_live_consumer_is_503_until_workers_come(stack_env):
    env = _own_db(stack_env, 5)
    gw, url = start_gateway(env, SKETCHREF_GATEWAY_REQUIRE_WORKERS="1", SKETCHREF_GATEWAY_WORKER_GRACE_S="0",
                            SKETCHREF_GATEWAY_WORKER_CHECK_INTERVAL_S="0.5", SKETCHREF_GATEWAY_WORKER_ABSENT_S="1")
    workers = []
    try:
        # (submissions the gateway took before it saw the queue had no consumer stay queued)
        wait_until(lambda: _post(url).status_code == 503, 30, "no_worker refusal", gw)
        queued = redis.Redis.from_url(env["SKETCHREF_REDIS_URL"]).llen("detect")
        r = _post(url)
        assert r.status_code == 503 and r.json()["error"]["code"] == "no_worker", r.text
        assert int(r.headers["Retry-After"]) > 0
        assert "detect" in r.json()["error"]["message"]
        assert redis.Redis.from_url(env["SKETCHREF_REDIS_URL"]).llen("detect") == queued  # the refusal queued nothing
        workers = [start_worker(env, kind) for kind in ("detector", "classifier", "recommender")]
        wait_until(lambda: _post(url).status_code == 202, 90, "accepted once workers consume", gw)
    finally:
        for w in workers:
            w.stop()
        gw.stop()


def test_a_queue_deeper_than_the_limit_is_503(stack_env):
    env = _own_db(stack_env, 6)
    gw, url = start_gateway(env, SKETCHREF_GATEWAY_MAX_QUEUE_DEPTH="3")
    try:
        assert [_post(url).status_code for _ in range(3)] == [202, 202, 202]  # nobody consumes
        r = _post(url)
        assert r.status_code == 503 and r.json()["error"]["code"] == "queue_full", r.text
        assert int(r.headers["Retry-After"]) > 0
        assert redis.Redis.from_url(env["SKETCHREF_REDIS_URL"]).llen("detect") == 3
    finally:
        gw.stop()


def test_depth_reading_is_reused_only_far_from_the_limit(redis_url):
    """A submission far from the limit reuses a recent reading of the queue depths (one Redis round trip
    saved); every submission it let through since counts as one more message, and near the limit (half
    of it) or after DEPTH_REUSE_S each one reads again, so the limit holds exactly."""
    from types import SimpleNamespace

    from services.gateway.backpressure import DEPTH_REUSE_S, Backpressure
    from services.gateway.errors import ApiError

    r = redis.Redis.from_url(redis_url)
    r.delete("detect", "classify", "recommend")
    now = [0.0]
    bp = Backpressure(None, SimpleNamespace(require_workers=False, max_queue_depth=8, outage_retry_after_s=5), clock=lambda: now[0])
    reads = []
    real = bp._depths

    def counted(client):
        depths = real(client)
        reads.append(depths is not None)
        return depths

    bp._depths = counted
    for _ in range(5):  # each check lets one more job in (the queue fills: nobody consumes)
        bp.check(r)
        r.lpush("detect", "m")
    # read (0), reused while 0 + checks since stays under 4, read again at the fifth (estimate 4)
    assert reads == [True, False, False, False, True]
    r.lpush("detect", *["m"] * 3)  # depth 8: full; the estimate (4 + 1) is not far from it: read
    with pytest.raises(ApiError) as refused:
        bp.check(r)
    assert refused.value.code == "queue_full" and reads[-1] is True
    r.delete("detect")
    now[0] += DEPTH_REUSE_S + 0.01
    bp.check(r)
    assert reads[-1] is True  # an old reading is read again
    r.delete("detect")
