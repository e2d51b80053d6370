"""A threads-pool worker enforces the stage's hard time limit: the stuck job fails with a reason that
says so, the worker exits (its supervisor restarts it) and the next worker serves the next job.

Real Redis, SeaweedFS, uvicorn and Celery workers (model doubles; the detector's double sleeps for
``SKETCHREF_TEST_DETECT_DELAY`` seconds, 6 here: three times the 2 s limit)."""

from __future__ import annotations

import httpx
import pytest

from services.common.processes import Proc, python_command
from services.common.settings import ROOT
from services.common.watchdog import EXIT_STUCK
from tests.services.doubles import DOUBLES_ENV
from tests.services.stack import flush_redis, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


def _worker(env: dict, kind: str, **extra) -> Proc:
    return Proc(kind, python_command("worker", kind, "--pool", "threads", "--concurrency", "2"),
                env={**env, **DOUBLES_ENV, **extra}, cwd=ROOT, echo=False)


def test_a_stuck_task_fails_its_job_and_ends_the_worker(stack_env, gateway):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    stuck = _worker(stack_env, "detector", SKETCHREF_TEST_DETECT_DELAY="6",  # also slows its warm-up (2 calls)
                    SKETCHREF_QUEUE_TIME_LIMIT_S='{"detect": 2}')
    others = [_worker(stack_env, k) for k in ("classifier", "recommender")]
    fresh = None
    try:
        with httpx.Client(base_url=gateway, timeout=30) as c:
            job = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")}).json()
            done = wait_job(c, job["id"], timeout=90)
            assert done["status"] == "failed", (done, stuck.tail())
            assert done["error"] == "detect exceeded its time limit of 2 s"
            stuck.popen.wait(timeout=30)
            assert stuck.popen.returncode == EXIT_STUCK, stuck.tail()
            fresh = _worker(stack_env, "detector")  # what `sketchref up` or Kubernetes does next
            again = wait_job(c, c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")}).json()["id"],
                             timeout=90)
            assert again["status"] == "succeeded", (again, fresh.tail())
    finally:
        for p in (stuck, fresh, *others):
            if p is not None:
                p.stop()
