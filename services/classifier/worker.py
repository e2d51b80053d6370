"""The classifier worker: consumes queue ``classify``; labels every detected object.

``sketchref worker classifier`` runs it: job id in, :func:`pipeline.classify` over the sketch and the
boxes in the job record, labels into the job record, then the ``recommend`` stage is enqueued.
"""

from __future__ import annotations

from services.common import pipeline
from services.common.worker import Context, load_gray, register_stage

ctx = Context(kind="classifier", default_loader="services.classifier.model:load_classifier")


def compute(ctx: Context, rec):
    gray = load_gray(ctx, rec)
    return pipeline.classify(gray, rec.objects, ctx.model(), rec.top_k), None


def register(app):
    return register_stage(app, ctx, "classify", compute)
