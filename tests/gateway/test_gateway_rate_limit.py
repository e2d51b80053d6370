"""The per-client rate limit on ``POST /v1/jobs``: the limiter against the real redis-server, then real
gateway processes (uvicorn) with the limit on, by IP address and by API key."""

from __future__ import annotations

import re
import threading
import uuid

import httpx
import pytest
import redis

from services.gateway.ratelimit import REFUSED_KEY, RateLimiter
from tests.services.stack import start_gateway

STROKES = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}
KEYS = "alpha-secret-key-111,beta-secret-key-222"


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _limiter(r, per_minute, burst=None):
    # a scope of its own per test: the session's Redis is shared
    return RateLimiter(r, per_minute, burst, scope=f"t-{uuid.uuid4().hex[:8]}")


def test_gcra_allows_a_burst_then_one_per_interval(r):
    lim = _limiter(r, per_minute=6, burst=3)  # one every 10 s, three at once
    refused_before = int(r.get(REFUSED_KEY) or 0)
    t0 = 1_700_000_000_000
    assert [lim.check("ip:a", t0).remaining for _ in range(3)] == [2, 1, 0]
    d = lim.check("ip:a", t0)
    assert not d.allowed and d.retry_after_s == 10 and d.limit == 6
    # a refusal does not push the window out: still allowed exactly 10 s after the start
    d = lim.check("ip:a", t0 + 9_001)
    assert not d.allowed and d.retry_after_s == 1
    assert lim.check("ip:a", t0 + 10_000).allowed
    assert not lim.check("ip:a", t0 + 10_000).allowed
    # another client has its own allowance
    assert lim.check("ip:b", t0).allowed
    assert int(r.get(REFUSED_KEY)) - refused_before == 3
    # idle long enough, the full burst is back
    assert [lim.check("ip:a", t0 + 60_000).allowed for _ in range(4)] == [True, True, True, False]
    # the key expires once its window is over: idle clients leave nothing behind
    assert 0 < r.pttl(lim.key("ip:b")) <= 60_000


def test_limit_is_atomic_under_concurrency(r):
    lim = _limiter(r, per_minute=1, burst=5)
    results = []
    lock = threading.Lock()

    def hit():
        d = lim.check("ip:crowd")
        with lock:
            results.append(d.allowed)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5 and len(results) == 40


def test_zero_turns_it_off(r):
    lim = _limiter(r, per_minute=0)
    assert not lim.enabled
    assert all(lim.check("ip:a").allowed for _ in range(100))
    assert r.get(lim.key("ip:a")) is None


def _job_keys(r) -> set[bytes]:
    return set(r.scan_iter(match="sketchref:job:*", count=1000))


def _metric(url, name) -> float:
    text = httpx.get(url + "/metrics", timeout=30).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


@pytest.fixture(scope="module")
def limited(stack_env):
    p, url = start_gateway(stack_env, SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="2", SKETCHREF_GATEWAY_RATE_LIMIT_BURST="2")
    try:
        yield url
    finally:
        p.stop()


def test_over_the_limit_is_429_and_makes_no_job(limited, r):
    refused_before = _metric(limited, "sketchref_rate_limited_total")
    with httpx.Client(base_url=limited, timeout=30) as c:
        ok = [c.post("/v1/jobs", json=STROKES) for _ in range(2)]
        assert [x.status_code for x in ok] == [202, 202], ok[-1].text
        assert ok[0].headers["ratelimit-limit"] == "2"
        assert [x.headers["ratelimit-remaining"] for x in ok] == ["1", "0"]
        before = _job_keys(r)
        for _ in range(3):
            x = c.post("/v1/jobs", json=STROKES, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert x.status_code == 429, x.text
            assert x.headers["content-type"].startswith("application/json")
            body = x.json()
            assert set(body) == {"error"} and body["error"]["code"] == "rate_limited"
            assert "a minute" in body["error"]["message"]
            assert 1 <= int(x.headers["retry-after"]) <= 60
        assert _job_keys(r) == before  # refused requests created nothing
        # reading jobs is not limited
        assert c.get(f"/v1/jobs/{ok[0].json()['id']}").status_code == 200
        assert c.get("/healthz").status_code == 200
    assert _metric(limited, "sketchref_rate_limited_total") - refused_before == 3


@pytest.fixture(scope="module")
def limited_keys(stack_env):
    p, url = start_gateway(stack_env, SKETCHREF_GATEWAY_API_KEYS=KEYS, SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="1",
                           SKETCHREF_GATEWAY_RATE_LIMIT_BURST="1")
    try:
        yield url
    finally:
        p.stop()


def test_with_auth_each_api_key_has_its_own_limit(limited_keys, r):
    alpha = {"Authorization": "Bearer alpha-secret-key-111"}
    beta = {"X-API-Key": "beta-secret-key-222"}
    with httpx.Client(base_url=limited_keys, timeout=30) as c:
        # unauthenticated requests are refused before they count
        assert c.post("/v1/jobs", json=STROKES).status_code == 401
        assert c.post("/v1/jobs", json=STROKES, headers=alpha).status_code == 202
        x = c.post("/v1/jobs", json=STROKES, headers=alpha)
        assert x.status_code == 429 and x.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(x.headers["retry-after"]) <= 60
        # same address, other key: its own allowance
        assert c.post("/v1/jobs", json=STROKES, headers=beta).status_code == 202
    # the limiter's keys name the key's hash, never the key itself
    names = b" ".join(r.scan_iter(match="sketchref:ratelimit:*", count=1000))
    assert b"secret" not in names and b"key:" in names
