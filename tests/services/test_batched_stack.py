"""Cross-job batching and inline payloads through the real stack (Redis, SeaweedFS, Celery threads
pool, uvicorn) with the model doubles: concurrent jobs all succeed, and a poisoned job in a batch
fails alone."""

from __future__ import annotations

import httpx
import pytest
from PIL import Image

from services.core.imaging import encode_image
from tests.services.doubles import POISON_WIDTH
from tests.services.stack import flush_redis, start_gateway, start_worker, wait_job

pytestmark = pytest.mark.slow


def _bands(widths: list[int]) -> bytes:
    im = Image.new("L", (520, 160), 255)
    x = 20
    for w in widths:
        im.paste(0, (x, 40, x + w, 120))
        x += w + 40
    return encode_image(im)


@pytest.fixture
def batched_stack(stack_env):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    env = {**stack_env, "SKETCHREF_BATCH_MAX_SIZE": "4", "SKETCHREF_BATCH_MAX_WAIT_MS": "50"}
    procs = {}
    for kind in ("detector", "classifier", "recommender"):
        p = start_worker(env, kind, args=("--pool", "threads", "--concurrency", "4"))
        procs[kind] = p
    gw, url = start_gateway(stack_env)
    procs["gateway"] = gw
    try:
        yield procs, url
    finally:
        for p in procs.values():
            p.stop()


def test_concurrent_jobs_are_batched_and_a_poisoned_one_fails_alone(batched_stack):
    procs, url = batched_stack
    sketches = [_bands([60, 90, 50 + 10 * i]) for i in range(5)] + [_bands([60, POISON_WIDTH, 80])]
    with httpx.Client(base_url=url, timeout=30) as c:
        ids = [c.post("/v1/jobs", files={"image": ("s.png", d, "image/png")}).json()["id"] for d in sketches]
        jobs = [wait_job(c, i, timeout=120) for i in ids]
    assert [j["status"] for j in jobs[:5]] == ["succeeded"] * 5, [j["error"] for j in jobs]
    for j in jobs[:5]:
        assert len(j["objects"]) == 3 and all(o["labels"][0]["label"].startswith("thing") for o in j["objects"])
    assert jobs[5]["status"] == "failed" and "classify" in str(jobs[5]["error"])
