"""The classifier worker: consumes queue ``classify``; labels every detected object.

``sketchref worker classifier`` runs it: job id in, the detector's clean image from the message (or
the sketch from storage), the boxes of the job record through :func:`pipeline.classify_many` (batched
with concurrent tasks), labels into the job record, then the ``recommend`` stage is enqueued with
the same inline payload.
"""

from __future__ import annotations

from services.common.worker import Context, forward, load_clean, payload, register_stage
from services.core import pipeline

from .settings import get_classifier_settings


def classify_batch(ctx: Context, jobs: list) -> list:
    return pipeline.classify_many(jobs, ctx.model())


ctx = Context(kind="classifier", default_loader="services.classifier.model:load_classifier",
              batch_fn=classify_batch, settings=get_classifier_settings)


def compute(ctx: Context, rec):
    clean = load_clean(ctx, rec)
    objects = ctx.batched((clean, rec.objects, rec.top_k), classify_batch)
    forward(payload())  # the recommender needs both: the clean image to rank with, the upload to crop
    return objects, None


def register(app):
    return register_stage(app, ctx, "classify", compute)
