"""Ready means able to work; every job and stage metric names its model versions; JSON logs.

Real Redis, SeaweedFS, Celery workers (model doubles) and uvicorn. A detector started with a mistyped
model URI exits with status 3 and one log line, never answers the probe k8s uses and never takes the
waiting message; a good one is not ready (and takes nothing) until its model is loaded and warmed up,
then serves, with its version in the job, its metrics, its log lines and ``/v1/version``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import redis

from services.common.model_registry import Registry
from services.common.processes import Proc, free_port, python_command, wait_until
from services.common.queue import enqueue, make_celery
from services.common.settings import ROOT, CommonSettings
from tests.services.doubles import DOUBLES_ENV
from tests.services.stack import BUCKET, flush_redis, s3_storage, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
SECRETS = {"SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY": "unsplash-KEY-3f9c2a71d", "SKETCHREF_GATEWAY_API_KEYS": "api-key-77a1c0e9b"}
pytestmark = pytest.mark.slow


def _worker(env: dict, kind: str, *args: str, **extra) -> Proc:
    e = {**env, **DOUBLES_ENV, **SECRETS, **extra}
    return Proc(kind, python_command("worker", kind, "--loglevel", "info", *args), env=e, cwd=ROOT, echo=False)


def _probe(env: dict) -> int:
    """The probe the k8s manifests and compose healthchecks run (startup, readiness, liveness)."""
    return subprocess.run([sys.executable, "-m", "services.common.probe", "--timeout", "2", "worker"], env=env,
                          cwd=ROOT, capture_output=True, timeout=60).returncode


def _json_lines(p: Proc) -> list[dict]:
    out = []
    for line in p.lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_bad_model_uri_never_ready_never_takes_a_task(stack_env):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
    app = make_celery(CommonSettings(redis_url=stack_env["SKETCHREF_REDIS_URL"]))
    enqueue(app, "detect", uuid.uuid4().hex)  # waiting for a detector
    uri = f"s3://{BUCKET}/models/detector/v99-typo/"
    p = _worker(stack_env, "detector", SKETCHREF_DETECTOR_MODEL_URI=uri)
    try:
        assert _probe(stack_env) != 0
        p.popen.wait(timeout=90)
        assert p.popen.returncode == 3, p.tail()
        p.stop()
        errors = [d for d in _json_lines(p) if d["level"] in ("ERROR", "CRITICAL")]
        assert len(errors) == 1, p.tail()
        assert "detector model cannot be loaded from" in errors[0]["msg"] and "v99-typo" in errors[0]["msg"]
        assert "no model files" in errors[0]["msg"]
        assert _probe(stack_env) != 0
        assert r.llen("detect") == 1  # the message is still there, untouched
        assert not list(r.scan_iter("sketchref:workers:*"))  # it never announced itself
    finally:
        p.stop()


def test_ready_only_when_warm_then_versions_metrics_and_logs(stack_env, gateway, tmp_path):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
    version = "v5-" + uuid.uuid4().hex[:6]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    Registry(s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])).publish("detector", version, tmp_path / "m")
    port = free_port()
    others = []
    with httpx.Client(base_url=gateway, timeout=30) as c:
        job = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")}).json()
        det = _worker(stack_env, "detector", "--metrics-port", str(port), SKETCHREF_TEST_LOAD_DELAY="8",
                      SKETCHREF_DETECTOR_MODEL_URI=f"s3://{BUCKET}/models/detector/{version}/")
        try:
            time.sleep(1.0)  # loading (8 s): not ready, nothing taken (the probe is per host: the
            assert _probe(stack_env) != 0, det.tail()  # detector is this host's only worker for now)
            assert det.alive() and not _detector_up(r)
            assert r.llen("detect") == 1
            wait_until(lambda: _probe(stack_env) == 0, 90, "the worker probe", det)
            assert _detector_up(r)
            others += [_worker(stack_env, k) for k in ("classifier", "recommender")]
            done = wait_job(c, job["id"], timeout=60)
            assert done["status"] == "succeeded", (done, det.tail())
            models = done["models"]
            assert models["detector"] == version
            assert models["classifier"].startswith("sha-") and models["recommender"] == "unsplash"

            served = c.get("/v1/version").json()
            kinds = {w["kind"]: w for w in served["workers"]}
            assert kinds["detector"]["version"] == version and kinds["detector"]["queue"] == "detect"
            assert served["models"]["detector"] == {version: 1} and set(kinds) == {"detector", "classifier",
                                                                                    "recommender"}

            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            assert (f'sketchref_worker_stage_seconds_count{{model_version="{version}",outcome="done",'
                    f'stage="detect"}} 1.0') in text, text[-3000:]
            assert f'sketchref_worker_model_info{{kind="detector",model_version="{version}",queue="detect"' in text
        finally:
            det.stop()
            for p in others:
                p.stop()
    # every stage line is JSON with job id, stage, model version and duration
    for p, stage in ((det, "detect"), (others[0], "classify"), (others[1], "recommend")):
        lines = [d for d in _json_lines(p) if d.get("job_id") == job["id"]]
        assert [d["stage"] for d in lines] == [stage], p.tail()
        assert lines[0]["model_version"] == models[p.name] and lines[0]["duration_ms"] >= 0
        assert lines[0]["outcome"] == "done"
    # and no secret reached any line
    for p in (det, *others):
        text = "\n".join(p.lines)
        assert text.strip()
        for secret in SECRETS.values():
            assert secret not in text
    # the heartbeat went with the worker
    assert not list(r.scan_iter("sketchref:workers:detector*"))


def _detector_up(r) -> bool:
    return bool(list(r.scan_iter("sketchref:workers:detector*")))
