"""Outages answer fast and clearly: a frozen Redis or S3 (SIGSTOP of a real redis-server or
SeaweedFS that this module started) makes submissions 503 with Retry-After and the right code, and
``/readyz`` 503 naming the dependency; after SIGCONT everything works again. Status codes are
asserted, never times (the client's timeout only turns a hang into a failure)."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import httpx
import pytest
import redis

from services.common.processes import (
    Proc,
    free_port,
    free_weed_ports,
    port_open,
    redis_command,
    wait_until,
    weed_command,
    weed_env,
)
from tests.services.stack import BUCKET, S3_KEY, s3_storage, start_gateway

STROKES = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}
HANG = 10  # seconds after which a request counts as hanging


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, stack_env):
    """A Redis, a SeaweedFS and a gateway of this module's own (they get frozen)."""
    rport, sport = free_port(), free_port()
    redis_p = Proc("redis-frozen", redis_command(rport, tmp_path_factory.mktemp("redis-f")), echo=False)
    weed_p = Proc("s3-frozen", weed_command(sport, tmp_path_factory.mktemp("weed-f"), free_weed_ports()),
                  env=weed_env(S3_KEY, S3_KEY), echo=False)
    procs = [redis_p, weed_p]
    try:
        wait_until(lambda: port_open(rport), 20, "redis-server", redis_p)
        endpoint = f"http://127.0.0.1:{sport}"
        wait_until(lambda: s3_storage(endpoint).ensure_bucket() or True, 60, "SeaweedFS", weed_p)
        env = dict(stack_env, SKETCHREF_REDIS_URL=f"redis://127.0.0.1:{rport}/0",
                   SKETCHREF_S3_ENDPOINT_URL=endpoint, SKETCHREF_S3_BUCKET=BUCKET)
        gw, url = start_gateway(env)
        procs.append(gw)
        yield {"redis": redis_p, "s3": weed_p, "url": url, "redis_url": env["SKETCHREF_REDIS_URL"]}
    finally:
        for p in reversed(procs):
            if p.alive:
                os.killpg(p.pid, signal.SIGCONT)
            p.stop()


@contextmanager
def frozen(proc: Proc):
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGCONT)


def _assert_503(r: httpx.Response, code: str) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == code
    assert int(r.headers["Retry-After"]) > 0


def test_frozen_redis(own_stack):
    url = own_stack["url"]
    with httpx.Client(base_url=url, timeout=HANG) as c:
        job = c.post("/v1/jobs", json=STROKES)
        assert job.status_code == 202, job.text
        with frozen(own_stack["redis"]):
            _assert_503(c.post("/v1/jobs", json=STROKES), "queue_unavailable")
            _assert_503(c.post("/v1/jobs", json=STROKES, headers={"Idempotency-Key": "k1"}), "queue_unavailable")
            _assert_503(c.get(f"/v1/jobs/{job.json()['id']}"), "queue_unavailable")
            r = c.get("/readyz")
            assert r.status_code == 503 and "redis" in r.json()["error"]["message"], r.text
            assert c.get("/healthz").status_code == 200
        wait_until(lambda: c.get("/readyz").status_code == 200, 20, "readyz after Redis came back")
        assert c.post("/v1/jobs", json=STROKES).status_code == 202


def test_frozen_s3(own_stack):
    url = own_stack["url"]
    r = redis.Redis.from_url(own_stack["redis_url"])
    before = sorted(r.keys("sketchref:job:*")), r.llen("detect")
    with httpx.Client(base_url=url, timeout=HANG) as c:
        with frozen(own_stack["s3"]):
            # a small sketch is queued while its S3 copy is stored (jobs.py::_submit): when the store
            # fails, the job is taken back, so the 503 leaves no record and no queued message
            _assert_503(c.post("/v1/jobs", json=STROKES), "storage_unavailable")
            _assert_503(c.post("/v1/jobs", json=STROKES, headers={"Idempotency-Key": "k-s3"}), "storage_unavailable")
            assert (sorted(r.keys("sketchref:job:*")), r.llen("detect")) == before
            assert not r.keys("sketchref:idem:*")
            r = c.get("/readyz")
            assert r.status_code == 503 and "storage" in r.json()["error"]["message"], r.text
            assert c.get("/healthz").status_code == 200
        wait_until(lambda: c.get("/readyz").status_code == 200, 30, "readyz after S3 came back")
        assert c.post("/v1/jobs", json=STROKES).status_code == 202


def test_nothing_listening_on_the_redis_port(stack_env):
    # nothing listening at all (connection refused) is a 503 too
    p, url = start_gateway(dict(stack_env, SKETCHREF_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        with httpx.Client(base_url=url, timeout=HANG) as c:
            _assert_503(c.post("/v1/jobs", json=STROKES), "queue_unavailable")
            _assert_503(c.get("/v1/jobs/0123456789abcdef0123456789abcdef"), "queue_unavailable")
            assert c.get("/readyz").status_code == 503
    finally:
        p.stop()
