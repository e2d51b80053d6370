"""A stage longer than the visibility timeout is not delivered twice while its worker lives.

Real Redis, Celery workers (model doubles) and gateway: the classifier takes 10 s per task with a
4 s visibility timeout. Its main process renews the message's lease (services/common/lease.py), so for
the whole task the message stays unacknowledged and held, never restored to the queue, and the job
succeeds with no requeue. Then the same worker is killed (main process and pool child) mid-task: the
lease lapses and the message comes back to a new worker, which finishes the job.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis

from services.common.settings import ROOT
from tests.services.stack import flush_redis, start_gateway, start_worker, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow
SLOW = {"SKETCHREF_TEST_CLASSIFY_DELAY": "10", "SKETCHREF_QUEUE_VISIBILITY_TIMEOUT": "4",
        "SKETCHREF_QUEUE_LEASE_RENEW_S": "1"}


def _held_at_classify(r) -> int:
    """Classify messages a worker holds (kombu's unacknowledged hash), not ones waiting in the queue."""
    return sum(json.loads(v)[2] == "classify" for v in r.hvals("unacked"))


def test_a_leased_message_is_not_redelivered_and_a_dead_workers_is(stack_env):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
    env = {**stack_env, "SKETCHREF_QUEUE_VISIBILITY_TIMEOUT": "4"}
    procs = {k: start_worker(env, k) for k in ("detector", "recommender")}
    procs["classifier"] = start_worker(env, "classifier", **SLOW)
    gw, url = start_gateway(env)
    procs["gateway"] = gw
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            job = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")}).json()
            deadline = time.monotonic() + 120  # the classifier took it (its start-up may take a while)
            while time.monotonic() < deadline and not _held_at_classify(r):
                time.sleep(0.1)
            seen = []
            for _ in range(16):  # 8 s: twice the visibility timeout, the task still running
                seen.append((_held_at_classify(r), r.llen("classify"), c.get(f"/v1/jobs/{job['id']}").json()["stage"]))
                time.sleep(0.5)
            held = [s for s in seen if s[2] == "classify"]
            assert len(held) >= 12, seen
            assert all(n_held == 1 and queued == 0 for n_held, queued, _ in held), seen
            done = wait_job(c, job["id"], timeout=60)
            assert done["status"] == "succeeded", done

            # the worker dies with the message: its lease lapses and another worker gets it
            job = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")}).json()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not _held_at_classify(r):
                time.sleep(0.1)
            procs["classifier"].kill9()
            procs["classifier"] = start_worker(env, "classifier", **{**SLOW, "SKETCHREF_TEST_CLASSIFY_DELAY": "0"})
            done = wait_job(c, job["id"], timeout=90)
            assert done["status"] == "succeeded", done
    finally:
        for p in procs.values():
            p.stop()
