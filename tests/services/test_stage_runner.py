"""``run_stage`` in this process on real Redis and SeaweedFS: redelivery is harmless, bad input fails fast."""

from __future__ import annotations

import io
import time

import pytest
import redis
from PIL import Image

from services.common.contracts import JobStatus, Stage
from services.common.imaging import encode_image
from services.common.jobs import JobRecord, JobStore, new_job_id
from services.common.queue import make_celery
from services.common.settings import ROOT, CommonSettings
from services.common.storage import S3Storage
from services.common.worker import Context, PermanentError, load_gray, run_stage
from services.detector.worker import compute as detect_compute
from services.detector.worker import restore_missing_crops
from tests.services.stack import BUCKET

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()


@pytest.fixture
def env(redis_url, s3_endpoint, monkeypatch):
    monkeypatch.setenv("SKETCHREF_DETECTOR_LOADER", "tests.services.doubles:load_detector")
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    settings = CommonSettings(redis_url=redis_url, s3_endpoint_url=s3_endpoint, s3_bucket=BUCKET,
                              s3_access_key="t", s3_secret_key="t")
    ctx = Context(kind="detector", default_loader="services.detector.model:load_detector")
    ctx._store = JobStore(r)
    ctx._storage = S3Storage.from_settings(settings)
    app = make_celery(settings)
    yield ctx, app, r
    app.close()


def _job(ctx, data=SKETCH) -> JobRecord:
    job = JobRecord(id=new_job_id(), sketch_key=f"sketches/{new_job_id()}.png", deadline_at=time.time() + 60)
    ctx.storage().put(job.sketch_key, data, "image/png")
    ctx.store().create(job)
    return job


def test_detect_then_redelivery(env):
    ctx, app, r = env
    job = _job(ctx)
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "done"
    rec = ctx.store().get(job.id)
    assert rec.stage == Stage.classify and rec.status == JobStatus.running and rec.objects
    assert r.llen("classify") == 1
    assert sorted(ctx.storage().list(f"crops/{job.id}/")) == sorted(rec.crop_keys)
    # the same message delivered again (its worker died before acking): no new work, no duplicates,
    # but the next stage is sent again in case the first send was lost with the worker
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "skipped"
    assert ctx.store().get(job.id).objects == rec.objects
    assert r.llen("classify") == 2


def test_redelivery_restores_crops_a_crash_cut_short(env):
    ctx, app, _ = env
    job = _job(ctx)
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "done"
    rec = ctx.store().get(job.id)
    lost = rec.crop_keys[-1]
    kept = ctx.storage().get(rec.crop_keys[0])
    ctx.storage().delete(lost)  # the worker died after enqueueing classify, before this upload
    assert run_stage(ctx, app, "detect", job.id, detect_compute, restore_missing_crops) == "skipped"
    assert sorted(ctx.storage().list(f"crops/{job.id}/")) == sorted(rec.crop_keys)
    assert Image.open(io.BytesIO(ctx.storage().get(lost))).size[0] > 1
    assert ctx.storage().get(rec.crop_keys[0]) == kept


def test_missing_or_corrupt_sketch_is_permanent(env):
    ctx, app, _ = env
    job = _job(ctx, SKETCH[:200])
    with pytest.raises(PermanentError, match="cannot be read"):
        load_gray(ctx, job)
    ctx.storage().delete(job.sketch_key)
    with pytest.raises(PermanentError, match="missing"):
        load_gray(ctx, job)


def test_finished_or_unknown_jobs_are_left_alone(env):
    ctx, app, r = env
    assert run_stage(ctx, app, "detect", new_job_id(), detect_compute) == "missing"
    job = _job(ctx)
    ctx.store().fail(job.id, "cancelled")
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "finished"
    assert r.llen("classify") == 0


def test_overdue_job_fails_instead_of_running(env):
    ctx, app, _ = env
    job = _job(ctx, encode_image(Image.new("L", (64, 64), 255)))
    ctx.store().update(job.id, lambda j: j.model_copy(update={"deadline_at": time.time() - 1}))
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "finished"
    assert "deadline" in ctx.store().get(job.id).error
