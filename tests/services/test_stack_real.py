"""The services with the real models give the same objects and labels as the embedded mode.

Real Redis, SeaweedFS, three Celery workers (separate processes, one queue each, the real loaders)
and uvicorn; a 3-object sketch is submitted, polled until ``succeeded`` and compared with
``Recognizer`` run in this process on the same bytes. Skips while the trained models are not shipped.
"""

from __future__ import annotations

import httpx
import pytest

from services.common.settings import ROOT
from tests.services.stack import flush_redis, start_gateway, start_worker, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded():
    try:
        from services.embedded import load_recognizer

        recognizer = load_recognizer()  # the real loaders
    except Exception as exc:  # trained weights not shipped yet
        pytest.skip(f"trained models not available: {type(exc).__name__}: {exc}")
    return recognizer.recognize(SKETCH)


def test_services_match_embedded(embedded, stack_env):
    flush_redis(stack_env["SKETCHREF_REDIS_URL"])
    procs = [start_worker(stack_env, k, doubles=False) for k in ("detector", "classifier", "recommender")]
    gw, url = start_gateway(stack_env)
    procs.append(gw)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            r = c.post("/v1/jobs", files={"image": ("three.png", SKETCH, "image/png")})
            assert r.status_code == 202, r.text
            job = wait_job(c, r.json()["id"], timeout=600)
    finally:
        tails = "\n".join(p.tail(30) for p in procs)
        for p in procs:
            p.stop()
    assert job["status"] == "succeeded", (job["error"], tails)
    assert len(embedded.objects) == 3
    assert job["image"] == embedded.image.model_dump()
    got, want = job["objects"], [o.model_dump() for o in embedded.objects]
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        assert g["box"] == pytest.approx(w["box"], abs=0.5)
        assert g["score"] == pytest.approx(w["score"], abs=1e-3)
        assert g["detector_label"] == w["detector_label"]
        assert [lab["label"] for lab in g["labels"]] == [lab["label"] for lab in w["labels"]]
        assert [lab["score"] for lab in g["labels"]] == pytest.approx([lab["score"] for lab in w["labels"]], abs=1e-3)
