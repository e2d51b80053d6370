"""Canary and rollback on the real stack: a classifier canary on its own queue, split by job-id hash,
then ``sketchref models rollback`` sends every new job to the old version with no worker restarted.

Real Redis, SeaweedFS, Celery workers (model doubles: the versions are real registry versions with
manifests; the doubles stand in for the networks) and uvicorn.
"""

from __future__ import annotations

import time

import httpx
import pytest

from cli.main import main
from services.common.model_registry import Registry
from services.common.processes import Proc, python_command, wait_until
from services.common.routing import choose
from services.common.settings import ROOT
from tests.services.doubles import DOUBLES_ENV
from tests.services.stack import BUCKET, S3_KEY, flush_redis, s3_storage, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


def _worker(env, kind, *args, **extra) -> Proc:
    return Proc(kind, python_command("worker", kind, "--loglevel", "warning", *args),
                env={**env, **DOUBLES_ENV, **extra}, cwd=ROOT, echo=False)


def _submit(c: httpx.Client, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def test_canary_split_then_rollback_in_one_command(stack_env, gateway, tmp_path, monkeypatch):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    for k in ("SKETCHREF_REDIS_URL", "SKETCHREF_S3_ENDPOINT_URL", "SKETCHREF_S3_BUCKET",
              "SKETCHREF_S3_ACCESS_KEY", "SKETCHREF_S3_SECRET_KEY"):
        monkeypatch.setenv(k, stack_env[k])
    assert stack_env["SKETCHREF_S3_ACCESS_KEY"] == S3_KEY
    storage = s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])
    for key in storage.list("models/classifier/"):
        storage.delete(key)
    reg = Registry(storage)
    for v in ("c1", "c2"):
        (tmp_path / v).mkdir()
        (tmp_path / v / "config.json").write_text(f'{{"v": "{v}"}}')
        reg.publish("classifier", v, tmp_path / v)
    assert main(["models", "promote", "classifier", "c1"]) == 0

    old = _worker(stack_env, "classifier", SKETCHREF_CLASSIFIER_MODEL_URI=f"s3://{BUCKET}/models/classifier/c1/")
    canary = _worker(stack_env, "classifier", "--model-version", "c2")
    rest = [_worker(stack_env, k) for k in ("detector", "recommender")]
    procs = [old, canary, *rest]
    try:
        with httpx.Client(base_url=gateway, timeout=30) as c:
            wait_until(lambda: c.get("/v1/version").json()["models"].get("classifier") == {"c1": 1, "c2": 1},
                       120, "both classifier versions", canary)
            queues = {w["version"]: w["queue"] for w in c.get("/v1/version").json()["workers"]
                      if w["kind"] == "classifier"}
            assert queues == {"c1": "classify", "c2": "classify@c2"}

            assert main(["models", "promote", "classifier", "c2", "--weight", "0.5"]) == 0
            time.sleep(2.5)  # the gateway's route cache (2 s)
            ids = _submit(c, 10)
            jobs = [wait_job(c, i, timeout=90) for i in ids]
            routes = {"classifier": {"current": "c1", "canary": "c2", "weight": 0.5}}
            for j in jobs:
                assert j["status"] == "succeeded", (j, canary.tail())
                expect = choose(j["id"], routes).get("classifier", "c1")
                assert j["models"]["classifier"] == expect, j["models"]
            served = {j["models"]["classifier"] for j in jobs}
            assert served == {"c1", "c2"}, served  # 10 jobs at 50%: both versions served (fixed by the ids)
            assert "sketchref_workers{" in c.get("/metrics").text

            # rollback: one command; new jobs all go to c1 within the route cache, no restart
            pids = (old.pid, canary.pid)
            t0 = time.monotonic()
            assert main(["models", "rollback", "classifier"]) == 0
            time.sleep(2.5)
            after = [wait_job(c, i, timeout=90) for i in _submit(c, 10)]
            assert all(j["status"] == "succeeded" and j["models"]["classifier"] == "c1" for j in after), \
                [j["models"] for j in after]
            assert time.monotonic() - t0 < 60
            assert old.alive() and canary.alive() and (old.pid, canary.pid) == pids
    finally:
        for p in procs:
            p.stop()
