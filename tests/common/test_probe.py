"""Container probes against a real redis-server and a real Celery worker process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("celery")

from services.common import probe  # noqa: E402

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is installed by `make setup` (Debian)")

APP = """
from celery import Celery
app = Celery("probe-test", broker="{url}")
app.conf.worker_prefetch_multiplier = 1

@app.task(name="noop")
def noop():
    return 1
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    port = _free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while not probe.check_broker(url, 0.5)[0]:
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory):
    d = tmp_path_factory.mktemp("app")
    (d / "probe_app.py").write_text(APP.format(url=redis_url))
    log = open(d / "worker.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "probe_app", "worker", "-Q", "detect",
                             "--pool", "solo", "-n", f"detector@{socket.gethostname()}", "--loglevel", "INFO"],
                            cwd=d, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not probe.local_nodes(redis_url, socket.gethostname(), 1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("worker did not start: " + Path(d / "worker.log").read_text()[-2000:])
    yield proc
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_broker_probe(redis_url):
    assert probe.check_broker(redis_url)[0]
    ok, why = probe.check_broker(f"redis://user:s3cret@127.0.0.1:{_free_port()}/0", 0.5)
    assert not ok and "s3cret" not in why


def test_worker_liveness_is_per_host(redis_url, worker):
    ok, why = probe.check_worker(redis_url, socket.gethostname(), 1.0)
    assert ok, why
    assert f"detector@{socket.gethostname()}" in why
    assert not probe.check_worker(redis_url, "some-other-pod", 1.0)[0]


def test_drain_stops_consuming_and_sigterm_is_a_warm_shutdown(redis_url, worker):
    from celery import Celery

    ok, why = probe.drain(redis_url, socket.gethostname(), "detect", 1.0)
    assert ok and "stopped consuming detect" in why
    app = Celery("check", broker=redis_url)
    queues = app.control.inspect(timeout=1.0).active_queues() or {}
    app.close()
    assert queues and all(q == [] for q in queues.values())
    worker.terminate()  # SIGTERM: Celery's warm shutdown, exit status 0
    assert worker.wait(30) == 0


def test_gateway_probe_reports_unreachable():
    ok, why = probe.check_gateway(f"http://127.0.0.1:{_free_port()}/healthz", 0.5)
    assert not ok and "ConnectError" in why
