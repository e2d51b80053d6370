"""The services end to end with small model doubles: real Redis, SeaweedFS, Celery workers, uvicorn.

Checks the plumbing (queues, job records, crops in S3, redelivery after a crash), not the models; the
test with the real models is ``test_stack_real.py``.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis

from services.common.processes import free_port, wait_until
from services.common.settings import ROOT
from tests.services.stack import flush_redis, s3_storage, start_gateway, start_worker, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


def _submit(client, data=SKETCH, **headers):
    r = client.post("/v1/jobs", files={"image": ("s.png", data, "image/png")}, headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    return r.json()


@pytest.fixture
def metrics_ports() -> dict[str, int]:
    """Each worker's Prometheus port (its stage latencies)."""
    return {k: free_port() for k in ("detector", "classifier", "recommender")}


@pytest.fixture
def stack(stack_env, request, metrics_ports):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    procs = {k: start_worker(stack_env, k, args=("--metrics-port", str(metrics_ports[k])),
                             **getattr(request, "param", {}).get(k, {}))
             for k in ("detector", "classifier", "recommender")}
    gw, url = start_gateway(stack_env)
    procs["gateway"] = gw
    try:
        yield procs, url
    finally:
        for p in procs.values():
            p.stop()


def test_prefer_wait_submits_and_answers_with_the_finished_job(stack):
    procs, url = stack
    with httpx.Client(base_url=url, timeout=60) as c:
        wait_job(c, _submit(c)["id"], timeout=120)  # the first job loads the models
        r = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")},
                   headers={"Prefer": "respond-async, wait=30"})
        assert r.status_code == 201, r.text
        done = r.json()
        assert done["status"] == "succeeded" and done["objects"], done
        assert r.headers["location"] == f"/v1/jobs/{done['id']}"
        assert r.headers["preference-applied"] == "wait=30"
        assert c.get(f"/v1/jobs/{done['id']}").json() == done  # the same job as a later poll reads
        # a replay of the same Idempotency-Key waits on the first job and answers it, finished
        first = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")},
                       headers={"Prefer": "wait=30", "Idempotency-Key": "prefer-1"})
        again = c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")},
                       headers={"Prefer": "wait=30", "Idempotency-Key": "prefer-1"})
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
        # a preference it does not understand changes nothing
        assert c.post("/v1/jobs", files={"image": ("s.png", SKETCH, "image/png")},
                      headers={"Prefer": "wait=soon"}).status_code == 202


def test_job_flows_through_three_queues(stack, stack_env, metrics_ports):
    procs, url = stack
    with httpx.Client(base_url=url, timeout=30) as c:
        job = _submit(c)
        assert job["status"] == "queued" and job["stage"] == "detect"
        done = c.get(f"/v1/jobs/{job['id']}", params={"wait": 30}).json()  # the long poll
        if done["status"] not in ("succeeded", "failed"):  # a slow first model load
            done = wait_job(c, job["id"], timeout=120)
        assert done["status"] == "succeeded", (done, procs["detector"].tail())
        assert done["stage"] == "done" and done["error"] is None
        assert done["image"]["width"] > 0 and len(done["image"]["sha256"]) == 64
        objs = done["objects"]
        assert len(objs) >= 1
        for o in objs:
            assert o["labels"][0]["label"].startswith("thing")
            assert len(o["references"]) == 6
        assert done["timings_ms"]["total"] > 0
        # one crop per object in S3, stored by the last stage just after the job succeeded
        s3 = s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])
        wait_until(lambda: len(s3.list(f"crops/{job['id']}/")) == len(objs), 10, "the crops")
        assert s3.exists(f"sketches/{job['id']}.png")
        metrics = c.get("/metrics").text
        assert 'sketchref_jobs_total{status="succeeded"} 1.0' in metrics
        assert 'sketchref_queue_depth{queue="detect"}' in metrics
        # stage latencies: each worker's own histogram, by model version and outcome (not the gateway's)
        assert "stage_seconds" not in metrics
        for kind, stage in (("detector", "detect"), ("classifier", "classify"), ("recommender", "recommend")):
            line = (f'sketchref_worker_stage_seconds_count{{model_version="{done["models"][kind]}",'
                    f'outcome="done",stage="{stage}"}} 1.0')
            wait_until(lambda line=line, k=kind: line in httpx.get(
                f"http://127.0.0.1:{metrics_ports[k]}/metrics", timeout=5).text, 10, f"the {stage} latency")
        r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
        assert r.keys("sketchref:metrics:*") == [b"sketchref:metrics:jobs"]  # no latencies kept in Redis
        r.close()


def test_a_lost_message_is_sent_again(stack, stack_env):
    from services.common.job_store import JobRecord, JobStore, new_job_id

    # a job whose detect message was lost: popped by a worker killed before it recorded the message
    # as unacknowledged (a window in Redis' transport). A gateway that sweeps for stalled jobs every
    # second replaces the stack's (one replica sweeps: the other's leader lock expires first).
    stack[0]["gateway"].stop()
    gw, gw_url = start_gateway(stack_env, SKETCHREF_GATEWAY_STALL_REQUEUE_S="1", SKETCHREF_GATEWAY_SWEEP_INTERVAL_S="0.5")
    try:
        store = JobStore(redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"]))
        s3 = s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])
        rec = JobRecord(id=new_job_id(), sketch_key=f"sketches/lost-{new_job_id()}.png",
                        deadline_at=time.time() + 120)
        s3.put(rec.sketch_key, SKETCH, "image/png")
        store.create(rec)  # and no message at all
        with httpx.Client(base_url=gw_url, timeout=30) as c:
            done = wait_job(c, rec.id, timeout=90)
        assert done["status"] == "succeeded" and done["objects"], done
        assert store.get(rec.id).requeues >= 1
    finally:
        gw.stop()


def test_submit_command_waits_for_the_job(stack, capsys):
    from cli.main import main

    _, url = stack
    for example in ("three_objects.png", "three_objects.json"):
        assert main(["submit", str(ROOT / "examples" / example), "--url", url, "--wait", "--timeout", "120"]) == 0
        job = json.loads(capsys.readouterr().out)
        assert job["status"] == "succeeded" and job["objects"]
    assert main(["submit", str(ROOT / "pyproject.toml"), "--url", url]) == 1  # refused: 415


def test_strokes_reach_the_classifier_which_cuts_touching_drawings_apart(stack, stack_env):
    """Two squares drawn one after the other, touching: one band of ink, so the detector double boxes
    them together; the strokes body (kept beside the sketch) lets the classifier cut them apart. The
    same drawing uploaded as a PNG stays one object, and deleting the job deletes its strokes too."""
    _, url = stack
    strokes = [[[20, 100, 100, 20, 20], [40, 40, 120, 120, 40]], [[104, 184, 184, 104, 104], [40, 40, 120, 120, 40]]]
    body = {"strokes": strokes, "width": 240, "height": 160, "stroke_width": 4}
    s3 = s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/v1/jobs", json=body, headers={"Prefer": "wait=30"})
        assert r.status_code in (201, 202), r.text
        done = wait_job(c, r.json()["id"])
        assert done["status"] == "succeeded", done
        assert [o["box"] for o in done["objects"]] == [[18, 38, 102, 122], [102, 38, 186, 122]]
        assert s3.exists(f"sketches/{done['id']}.strokes.json")
        png = s3.get(f"sketches/{done['id']}.png")
        again = wait_job(c, _submit(c, png)["id"])
        assert again["status"] == "succeeded" and len(again["objects"]) == 1, again
        assert c.delete(f"/v1/jobs/{done['id']}").status_code == 204
        assert not s3.exists(f"sketches/{done['id']}.strokes.json")


@pytest.mark.parametrize("stack", [{"classifier": {"SKETCHREF_TEST_CLASSIFY_DELAY": "0.5"}}], indirect=True)
def test_kill9_classifier_mid_flight_loses_nothing(stack, stack_env):
    procs, url = stack
    n = 12
    with httpx.Client(base_url=url, timeout=30) as c:
        ids = [_submit(c)["id"] for _ in range(n)]
        # wait until the classifier is busy with some job (stage classify, running)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = [c.get(f"/v1/jobs/{i}").json() for i in ids]
            if any(j["stage"] == "classify" for j in jobs):
                break
            time.sleep(0.05)
        procs["classifier"].kill9()
        assert not procs["classifier"].alive()
        procs["classifier"] = start_worker(stack_env, "classifier", SKETCHREF_TEST_CLASSIFY_DELAY="0.05")
        results = [wait_job(c, i, timeout=180) for i in ids]
    assert [r["status"] for r in results] == ["succeeded"] * n, [r["error"] for r in results]
    counts = {len(r["objects"]) for r in results}
    assert len(counts) == 1  # same sketch: same objects every time, none duplicated
    for r in results:
        boxes = [tuple(o["box"]) for o in r["objects"]]
        assert len(boxes) == len(set(boxes))
