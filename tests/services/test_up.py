"""``sketchref up``: the whole stack as processes; 50 concurrent jobs survive a kill -9 of the classifier.

Runs the real command (redis-server, weed mini, three Celery workers, uvicorn) on free ports, twice:
with the shipped models (as a user runs it), and with the model doubles and a classifier slowed to
0.1 s a task (so that the kill surely lands mid-task). ``up`` starts a new classifier worker by itself,
and SIGINT (shipped) or SIGTERM (doubles) stops everything: no process it started is left, pool
children included (checked by pid).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from services.common.processes import free_port, wait_until
from services.common.settings import ROOT
from tests.services.doubles import DOUBLES_ENV

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("models", ["shipped", "doubles"])
def test_up_50_jobs_survive_kill9_and_sigint_stops_all(tmp_path, models):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
    if models == "doubles":
        env.update(DOUBLES_ENV, SKETCHREF_TEST_CLASSIFY_DELAY="0.3")  # 50 jobs: ~15 s of classifying
    env.update(SKETCHREF_QUEUE_VISIBILITY_TIMEOUT="8", SKETCHREF_GATEWAY_STALL_REQUEUE_S="20",
               SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="0", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(port), "--free-ports",
                           "--data-dir", str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(up.stdout), daemon=True).start()
    try:
        wait_until(lambda: any("ready: http" in ln for ln in lines), 300, "sketchref up")
        pids = {m.group(1): int(m.group(2)) for ln in lines
                if (m := re.search(r"(\w+) started \(pid (\d+)\)", ln))}
        assert set(pids) >= {"redis", "s3", "detector", "classifier", "recommender", "gateway"}
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=60) as c:
            with ThreadPoolExecutor(16) as pool:
                resp = list(pool.map(lambda _: c.post("/v1/jobs", files={"image": ("s.png", SKETCH)}), range(50)))
            assert all(r.status_code == 202 for r in resp)
            ids = [r.json()["id"] for r in resp]
            # the first job past classify (its next stage is brief: it may already be done)
            wait_until(lambda: any(c.get(f"/v1/jobs/{i}").json()["stage"] in ("recommend", "done") for i in ids),
                       240, "first classified job")
            os.killpg(pids["classifier"], signal.SIGKILL)  # jobs are in flight in the classify queue
            wait_until(lambda: any("classifier exited" in ln for ln in lines), 30, "up noticing the crash")
            deadline = time.monotonic() + 240
            jobs = []
            for i in ids:
                while True:
                    job = c.get(f"/v1/jobs/{i}").json()
                    if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                jobs.append(job)
        assert [j["status"] for j in jobs] == ["succeeded"] * 50, [j["error"] for j in jobs if j["error"]]
        n_objects = {len(j["objects"]) for j in jobs}
        assert len(n_objects) == 1, n_objects  # same sketch: same objects, none duplicated
        labels = {tuple(o["labels"][0]["label"] for o in j["objects"]) for j in jobs}
        assert len(labels) == 1, labels
        assert sum("classifier started" in ln for ln in lines) == 2
    finally:
        children = psutil.Process(up.pid).children(recursive=True)
        up.send_signal(signal.SIGINT if models == "shipped" else signal.SIGTERM)
        code = up.wait(timeout=90)
    assert code == 0, "\n".join(lines[-40:])
    assert any("up         | stopped" in ln for ln in lines)
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [(p.pid, p.name()) for p in alive]
    for name, pid in pids.items():
        try:
            os.killpg(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, f"{name} still running after SIGINT"
