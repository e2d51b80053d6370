"""``run_stage`` in this process on real Redis and SeaweedFS: redelivery is harmless, bad input fails fast."""

from __future__ import annotations

import io
import time

import pytest
import redis
from PIL import Image

from services.classifier import worker as classifier_worker
from services.classifier.settings import get_classifier_settings
from services.classifier.worker import compute as classify_compute
from services.common.job_store import JobRecord, JobStore, new_job_id
from services.common.queue import make_celery
from services.common.settings import ROOT, CommonSettings
from services.common.worker import Context, PermanentError, load_gray, run_stage
from services.core.contracts import JobStatus, Stage
from services.core.imaging import encode_image
from services.detector import worker as detector_worker
from services.detector.settings import get_detector_settings
from services.detector.worker import compute as detect_compute
from services.recommender import worker as recommender_worker
from services.recommender.settings import get_recommender_settings
from services.recommender.worker import compute as recommend_compute
from services.recommender.worker import restore_missing_crops
from tests.services.doubles import DOUBLES_ENV
from tests.services.stack import s3_storage

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()


WORKERS = {"detector": detector_worker.ctx, "classifier": classifier_worker.ctx,
           "recommender": recommender_worker.ctx}


def _clear_settings() -> None:
    for getter in (get_detector_settings, get_classifier_settings, get_recommender_settings):
        getter.cache_clear()


def _fresh(kind: str) -> Context:
    """A new context of the ``kind`` worker, wired as its module's (the loader from its settings)."""
    w = WORKERS[kind]
    return Context(kind=kind, default_loader=w.default_loader, settings=w.settings)


@pytest.fixture
def env(redis_url, s3_endpoint, monkeypatch):
    for name, value in DOUBLES_ENV.items():  # SKETCHREF_<KIND>_LOADER: the doubles, through the settings
        monkeypatch.setenv(name, value)
    _clear_settings()
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    ctx = _fresh("detector")
    ctx._store = JobStore(r)
    ctx._storage = s3_storage(s3_endpoint)
    app = make_celery(CommonSettings(redis_url=redis_url))
    yield ctx, app, r
    app.close()
    _clear_settings()


def _ctx(ctx: Context, kind: str) -> Context:
    """A context of another worker kind on the same Redis and S3."""
    other = _fresh(kind)
    other._store, other._storage = ctx._store, ctx._storage
    return other


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
    # the same message delivered again (its worker died before acking): no new work, no duplicates,
    # but the next stage is sent again in case the first send was lost with the worker
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "skipped"
    assert ctx.store().get(job.id).objects == rec.objects
    assert r.llen("classify") == 2


def _three_bands() -> bytes:
    """Three drawings side by side, separated by blank columns (the test detector's objects)."""
    im = Image.new("L", (300, 120), 255)
    for x in (20, 120, 220):
        im.paste(0, (x, 30, x + 60, 90))
    return encode_image(im)


def test_crops_are_stored_once_the_job_succeeded_and_restored_after_a_crash(env):
    ctx, app, _ = env
    job = _job(ctx, _three_bands())
    classifier, recommender = _ctx(ctx, "classifier"), _ctx(ctx, "recommender")
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "done"
    assert run_stage(classifier, app, "classify", job.id, classify_compute) == "done"
    assert ctx.storage().list(f"crops/{job.id}/") == []  # nothing on the way to the result
    assert run_stage(recommender, app, "recommend", job.id, recommend_compute, restore_missing_crops) == "done"
    rec = ctx.store().get(job.id)
    assert rec.status == JobStatus.succeeded and len(rec.crop_keys) == len(rec.objects) == 3
    assert sorted(ctx.storage().list(f"crops/{job.id}/")) == sorted(rec.crop_keys)
    x1, y1, x2, y2 = (round(v) for v in rec.objects[0].box)
    assert Image.open(io.BytesIO(ctx.storage().get(rec.crop_keys[0]))).size == (x2 - x1, y2 - y1)
    lost = rec.crop_keys[-1]
    kept = ctx.storage().get(rec.crop_keys[0])
    ctx.storage().delete(lost)  # the worker died after the job succeeded, before this upload
    assert run_stage(recommender, app, "recommend", job.id, recommend_compute, restore_missing_crops) == "finished"
    assert sorted(ctx.storage().list(f"crops/{job.id}/")) == sorted(rec.crop_keys)
    assert Image.open(io.BytesIO(ctx.storage().get(lost))).size[0] > 1
    assert ctx.storage().get(rec.crop_keys[0]) == kept
    assert ctx.store().get(job.id).objects == rec.objects  # nothing redone


def test_the_recommender_ranks_photos_on_the_clean_image_like_in_process(env):
    """Dark mode: the crops the provider ranks photos against are cut from the clean working image
    (dark strokes on white paper, as in-process), not from the upload as drawn (light on a dark
    canvas); the crops stored for the job still come from the upload."""
    from PIL import ImageDraw

    ctx, app, _ = env
    dark = Image.new("L", (300, 120), 20)
    pen = ImageDraw.Draw(dark)
    for x in (20, 120, 220):  # three outlined squares, apart: the test detector's three objects
        pen.rectangle((x, 30, x + 60, 90), outline=235, width=4)
    job = _job(ctx, encode_image(dark))
    classifier, recommender = _ctx(ctx, "classifier"), _ctx(ctx, "recommender")
    assert run_stage(ctx, app, "detect", job.id, detect_compute) == "done"
    assert run_stage(classifier, app, "classify", job.id, classify_compute) == "done"
    ranked_on = []

    class Capture:
        def recommend(self, label, n=6, crop=None):
            ranked_on.append(crop)
            return []

    recommender._model = Capture()
    assert run_stage(recommender, app, "recommend", job.id, recommend_compute, restore_missing_crops) == "done"
    rec = ctx.store().get(job.id)
    assert len(ranked_on) >= len(rec.objects) == 3

    def inside(crop):  # the middle of a square: paper
        return crop.convert("L").getpixel((crop.width // 2, crop.height // 2))

    assert all(inside(crop) > 200 for crop in ranked_on)  # white paper, like the clean image
    assert inside(Image.open(io.BytesIO(ctx.storage().get(rec.crop_keys[0])))) < 60  # the canvas as drawn


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
