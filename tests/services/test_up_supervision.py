"""``sketchref up`` supervises its children and never leaves one behind.

With the model doubles and a classifier slowed to 0.3 s a task, on free ports:

- kill -9 of Redis: ``up`` restarts it on the same port from its append-only file; jobs finished
  before still answer, and jobs queued before the kill finish after it;
- kill -9 of the classifier's *main* process (its pool child orphaned mid-task), then of the new
  classifier's *pool child*, each with jobs in flight: every job succeeds (the lease of
  services/common/lease.py lets the first come back after the visibility timeout; the second
  requeues at once);
- SIGKILL of ``up`` itself: every process it started (pool children included) exits by itself.

SIGTERM stopping everything is checked in test_up.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from services.common.processes import free_port, wait_until
from services.common.settings import ROOT
from tests.services.doubles import DOUBLES_ENV

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


def _pids(lines: list[str]) -> dict[str, int]:
    """The latest pid of each child, from up's "NAME started (pid N)" lines."""
    return {m.group(1): int(m.group(2)) for ln in list(lines) if (m := re.search(r"(\w+) started \(pid (\d+)\)", ln))}


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _finish_all(c: httpx.Client, ids: list[str], timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    out = []
    for i in ids:
        while True:
            try:
                r = c.get(f"/v1/jobs/{i}")
            except httpx.TransportError:  # a connection cut while Redis was down: ask again
                time.sleep(0.2)
                continue
            if r.status_code >= 500 and time.monotonic() < deadline:  # Redis still coming back: ask again
                time.sleep(0.2)
                continue
            job = r.json() if r.status_code == 200 else {"status": f"http {r.status_code}", "error": r.text}
            if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        out.append(job)
    return out


def _submit(c: httpx.Client, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = c.post("/v1/jobs", files={"image": ("s.png", SKETCH)})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def _in_flight_at_classify(c: httpx.Client, ids: list[str]) -> bool:
    return any(c.get(f"/v1/jobs/{i}").json()["stage"] == "classify" for i in ids)


def test_up_restarts_redis_and_workers_and_dies_with_its_parent(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
    env.update(DOUBLES_ENV, SKETCHREF_TEST_CLASSIFY_DELAY="0.3", SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="0",
               # an orphaned message comes back after 5 s, not the default 15 s
               SKETCHREF_QUEUE_VISIBILITY_TIMEOUT="5", SKETCHREF_QUEUE_LEASE_RENEW_S="1",
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(port), "--free-ports",
                           "--data-dir", str(tmp_path), "--pool", "prefork", "--concurrency", "1"],  # pool children to kill
                          cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(up.stdout), daemon=True).start()
    everything: list[psutil.Process] = []
    try:
        wait_until(lambda: any("ready: http" in ln for ln in lines), 300, "sketchref up")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            # 1. Redis killed with jobs finished and queued
            done_before = _submit(c, 3)
            assert [j["status"] for j in _finish_all(c, done_before)] == ["succeeded"] * 3
            queued = _submit(c, 8)
            old_redis = _pids(lines)["redis"]
            os.kill(old_redis, signal.SIGKILL)
            wait_until(lambda: _pids(lines)["redis"] != old_redis, 30, "redis restarted")
            assert any("redis exited" in ln and "restarting in" in ln for ln in lines)
            jobs = _finish_all(c, done_before + queued)
            assert [j["status"] for j in jobs] == ["succeeded"] * 11, [j.get("error") for j in jobs]

            # 2. the classifier's main process killed: its pool child is orphaned mid-task
            ids = _submit(c, 10)
            wait_until(lambda: _in_flight_at_classify(c, ids), 120, "a job at classify")
            main = _pids(lines)["classifier"]
            os.kill(main, signal.SIGKILL)
            wait_until(lambda: _pids(lines)["classifier"] != main, 30, "classifier restarted")
            jobs = _finish_all(c, ids)
            assert [j["status"] for j in jobs] == ["succeeded"] * 10, [j.get("error") for j in jobs]

            # 3. the new classifier's pool child killed mid-task
            ids = _submit(c, 10)
            wait_until(lambda: _in_flight_at_classify(c, ids), 120, "a job at classify")
            main = _pids(lines)["classifier"]
            wait_until(lambda: _descendants(main), 30, "the classifier's pool child")
            for child in _descendants(main):
                child.kill()
            jobs = _finish_all(c, ids)
            assert [j["status"] for j in jobs] == ["succeeded"] * 10, [j.get("error") for j in jobs]
            assert _pids(lines)["classifier"] == main  # the main process lived on and forked a new child

        # 4. up itself SIGKILLed: no chance to stop anything, yet nothing it started survives
        assert not any("gateway exited" in ln for ln in lines)  # a Redis crash is not the gateway's
        everything = _descendants(up.pid)
        names = {p.name() for p in everything}
        assert any("redis" in n for n in names) and len(everything) >= 8, names
        up.kill()
        up.wait(timeout=10)
        gone, alive = psutil.wait_procs(everything, timeout=20)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)
        for p in everything:  # only processes this test's up started
            if p.is_running():
                p.kill()
