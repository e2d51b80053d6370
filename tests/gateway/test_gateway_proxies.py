"""Proxies and clients, against real gateway processes: request heads over 16 KB are a JSON 431,
X-Forwarded-For is believed only from SKETCHREF_FORWARDED_ALLOW_IPS, and the rate limit and
Idempotency-Keys belong to the real client; one access line per request."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import httpx
import pytest

from tests.services.stack import start_gateway

STROKES = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}


def _raw(url: str, head: bytes, body_after: bytes = b"") -> tuple[int, bytes]:
    """Send a raw request head in pieces (the server may close early); the status and body."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=20) as s:
        try:
            for i in range(0, len(head), 1 << 16):
                s.sendall(head[i:i + (1 << 16)])
            s.sendall(body_after)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the head ended: the answer is already waiting
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("size", [17 * 1024, 1024 * 1024, 32 * 1024 * 1024])
def test_request_headers_over_16_kb_are_431(gateway, size):
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    status, body = _raw(gateway, head)
    assert status == 431
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert httpx.get(gateway + "/healthz").status_code == 200


def test_headers_under_16_kb_pass(gateway):
    r = httpx.get(gateway + "/healthz", headers={"X-Big": "a" * (14 * 1024)})
    assert r.status_code == 200


@pytest.fixture(scope="module")
def gateways(stack_env):
    """One gateway trusting no proxy (the default), one trusting the loopback proxy; both with a
    rate limit of one submission per client."""
    limited = {"SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE": "1", "SKETCHREF_GATEWAY_RATE_LIMIT_BURST": "1"}
    p1, plain = start_gateway(stack_env, **limited)
    p2, proxied = start_gateway(stack_env, SKETCHREF_FORWARDED_ALLOW_IPS="127.0.0.1", **limited)
    try:
        yield plain, proxied
    finally:
        p1.stop()
        p2.stop()
        # the session's Redis is shared: leave no client's allowance used up for later tests
        import redis

        r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
        for k in r.scan_iter("sketchref:ratelimit:*"):
            r.delete(k)
        r.close()


def _post(url, xff=None, **headers):
    if xff:
        headers["X-Forwarded-For"] = xff
    return httpx.post(url + "/v1/jobs", json=STROKES, headers=headers, timeout=30)


def test_forwarded_for_is_ignored_from_untrusted_peers(gateways):
    plain, _ = gateways
    # a loopback client naming itself 198.51.100.1 then .2 is still one client (127.0.0.1)
    assert _post(plain, "198.51.100.1").status_code == 202
    r = _post(plain, "198.51.100.2")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


def test_rate_limit_per_real_client_behind_a_trusted_proxy(gateways):
    _, proxied = gateways
    assert _post(proxied, "203.0.113.7").status_code == 202
    assert _post(proxied, "203.0.113.8").status_code == 202  # another client behind the proxy
    assert _post(proxied, "203.0.113.7").status_code == 429  # the first one again


def test_idempotency_keys_are_scoped_per_client(gateways):
    _, proxied = gateways
    key = {"Idempotency-Key": "same-key-for-two-clients"}
    a = _post(proxied, "203.0.113.20", **key)
    b = _post(proxied, "203.0.113.21", **key)
    assert a.status_code == b.status_code == 202, (a.text, b.text)
    assert a.json()["id"] != b.json()["id"]  # not the other client's job


def test_one_access_line_per_request_written_after_the_answer(stack_env):
    """At --log-level info the gateway writes uvicorn's access line once per request, with the status
    answered (uvicorn's own, written before the first byte, is off: server.py)."""
    import time

    from services.common.processes import Proc, free_port, python_command, wait_until
    from services.common.settings import ROOT

    port = free_port()
    p = Proc("gateway", python_command("gateway", "--port", str(port), "--log-level", "info"), env=dict(stack_env),
             cwd=ROOT, echo=False)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/healthz", timeout=2).status_code == 200, 60, "gateway", p)
        assert httpx.get(url + "/v1/jobs/" + "0" * 32, timeout=10).status_code == 404
        assert httpx.get(url + "/healthz?probe=1", timeout=10).status_code == 200
        time.sleep(0.5)
        access = [ln for ln in p.lines if '"GET /' in ln]
        assert sum(f'"GET /v1/jobs/{"0" * 32} HTTP/1.1" 404' in ln for ln in access) == 1, access
        assert sum('"GET /healthz?probe=1 HTTP/1.1" 200' in ln for ln in access) == 1, access
    finally:
        p.stop()
