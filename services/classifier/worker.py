"""The classifier worker: consumes queue ``classify``; labels every detected object.

``sketchref worker classifier`` runs it: job id in, the detector's clean image from the message (or
the sketch from storage), the boxes of the job record through :func:`pipeline.classify_many` (batched
with concurrent tasks), labels into the job record, then the ``recommend`` stage is enqueued with
the same inline payload. A sketch drawn from strokes has its strokes body inline in the
message when small, else in storage (``strokes_key``): the classifier cuts boxes around drawings drawn one after the other with it
(:func:`pipeline.split_by_strokes`).
"""

from __future__ import annotations

import logging

from services.common.inline import strokes_bytes
from services.common.worker import Context, forward, load_clean, payload, register_stage
from services.core import pipeline
from services.core.requests import StrokesBody, classifier_strokes

from .settings import get_classifier_settings

log = logging.getLogger("sketchref.classifier")


def classify_batch(ctx: Context, jobs: list) -> list:
    return pipeline.classify_many(jobs, ctx.model())


ctx = Context(kind="classifier", default_loader="services.classifier.model:load_classifier",
              batch_fn=classify_batch, settings=get_classifier_settings)


def load_strokes(ctx: Context, rec) -> dict | None:
    """The job's strokes (``{"strokes", "stroke_width"}``), or None: an uploaded image has none, and a
    strokes body that cannot be read only costs the split by strokes (the job is still classified)."""
    if not rec.strokes_key:
        return None
    try:
        data = strokes_bytes(payload(), rec.strokes_sha256)  # inline in the message, else its S3 copy
        body = StrokesBody.model_validate_json(data if data is not None else ctx.storage().get(rec.strokes_key))
    except Exception as exc:
        log.warning("job %s: strokes unreadable (%s); classifying from pixels only", rec.id, type(exc).__name__)
        return None
    return classifier_strokes(body)


def compute(ctx: Context, rec):
    clean = load_clean(ctx, rec)
    objects = ctx.batched((clean, rec.objects, rec.top_k, load_strokes(ctx, rec)), classify_batch)
    forward(payload())  # the recommender needs both: the clean image to rank with, the upload to crop
    return objects, None


def register(app):
    return register_stage(app, ctx, "classify", compute)
