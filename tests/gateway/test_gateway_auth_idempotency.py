"""API keys (constant-time compare, never echoed), Idempotency-Key, the job deadline, the long poll."""

from __future__ import annotations

import time

import httpx
import pytest

from services.common.settings import ROOT
from services.core.imaging import encode_image
from services.core.rendering import render_strokes
from tests.services.stack import start_gateway

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
SQUARE = encode_image(render_strokes([[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]], 256))  # another payload
KEYS = "first-secret-key-123,second-secret-key-456"


@pytest.fixture(scope="module")
def secured(stack_env):
    # deadline 1 s and no workers in this module: queued jobs must turn failed, not hang
    p, url = start_gateway(stack_env, SKETCHREF_GATEWAY_API_KEYS=KEYS, SKETCHREF_GATEWAY_JOB_DEADLINE_S="1")
    try:
        yield url, p
    finally:
        p.stop()


def _post(url, data=SKETCH, **headers):
    return httpx.post(url + "/v1/jobs", files={"image": ("s.png", data)}, headers=headers, timeout=30)


def test_api_keys(secured):
    url, proc = secured
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                    {"X-API-Key": "first-secret-key-12"}):
        r = _post(url, **headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url + "/v1/jobs/0123456789abcdef0123456789abcdef").status_code == 401
    assert _post(url, Authorization="Bearer second-secret-key-456").status_code == 202
    assert _post(url, **{"X-API-Key": "first-secret-key-123"}).status_code == 202
    # open endpoints stay open
    assert httpx.get(url + "/healthz").status_code == 200
    # the keys never appear in answers or logs
    text = httpx.get(url + "/openapi.json").text + httpx.get(url + "/metrics").text + proc.tail(500)
    assert "secret-key" not in text


def test_idempotency_key(secured):
    url, _ = secured
    auth = {"Authorization": "Bearer first-secret-key-123"}
    a = _post(url, **auth, **{"Idempotency-Key": "abc-1"})
    b = _post(url, **auth, **{"Idempotency-Key": "abc-1"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"]
    assert b.headers.get("idempotent-replayed") == "true"
    c = _post(url, SQUARE, **auth, **{"Idempotency-Key": "abc-1"})
    assert c.status_code == 422 and c.json()["error"]["code"] == "idempotency_key_reused"
    # another key scope (another API key) does not collide
    d = _post(url, Authorization="Bearer second-secret-key-456", **{"Idempotency-Key": "abc-1"})
    assert d.status_code == 202 and d.json()["id"] != a.json()["id"]
    # no key: a new job every time
    assert _post(url, **auth).json()["id"] != _post(url, **auth).json()["id"]


def test_job_past_deadline_is_failed(secured):
    url, _ = secured
    auth = {"Authorization": "Bearer first-secret-key-123"}
    job = _post(url, **auth).json()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=auth).json()
        if got["status"] == "failed":
            break
        time.sleep(0.2)
    assert got["status"] == "failed" and "deadline" in got["error"]


def test_long_poll_waits_for_a_change_or_the_time(secured):
    url, _ = secured
    auth = {"Authorization": "Bearer first-secret-key-123"}
    job = _post(url, data=SQUARE, **auth).json()
    t0 = time.monotonic()
    got = httpx.get(f"{url}/v1/jobs/{job['id']}", params={"wait": 0.4}, headers=auth, timeout=30)
    # nothing finished it (no workers) but the deadline is 1 s: it answered after its wait, unfinished
    # or already failed by the deadline check on reading
    assert got.status_code == 200 and time.monotonic() - t0 >= 0.35
    t0 = time.monotonic()
    got = httpx.get(f"{url}/v1/jobs/{job['id']}", params={"wait": 25}, headers=auth, timeout=40).json()
    # the sweeper (every 5 s) fails it past its deadline; the waiting request hears of it at once
    assert got["status"] == "failed" and time.monotonic() - t0 < 15
    assert httpx.get(f"{url}/v1/jobs/{job['id']}", params={"wait": 31}, headers=auth).status_code == 422
    missing = httpx.get(f"{url}/v1/jobs/{'0' * 32}", params={"wait": 5}, headers=auth, timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"
    # the same wait in the submission (RFC 7240 Prefer): no worker finishes it, so 202 after the wait
    t0 = time.monotonic()
    r = httpx.post(f"{url}/v1/jobs", files={"image": ("s.png", SQUARE, "image/png")},
                   headers={**auth, "Prefer": "wait=0.5"}, timeout=30)
    assert r.status_code == 202 and r.json()["status"] in ("queued", "failed") and time.monotonic() - t0 >= 0.45
    assert r.headers["preference-applied"] == "wait=0.5"


def test_prefer_wait_is_read_as_rfc_7240_says():
    from services.gateway.api.routes.jobs import MAX_WAIT_S, prefer_wait

    assert prefer_wait("wait=10") == 10 and prefer_wait("respond-async, WAIT = \"2.5\"") == 2.5
    assert prefer_wait("wait=3600") == MAX_WAIT_S
    for ignored in (None, "", "wait=", "wait=soon", "wait=-1", "handling=strict; wait=3", "wait=1e9"):
        assert prefer_wait(ignored) == 0
