"""The detector worker: consumes queue ``detect``; finds the objects.

``sketchref worker detector`` runs it. The task is thin: job id in, :func:`pipeline.detect` on the
sketch read from storage, objects (boxes, scores) into the job record, then the ``classify`` stage is
enqueued. The crops of the boxes are stored when the job has succeeded (:mod:`services.common.crops`).
"""

from __future__ import annotations

from services.common import pipeline
from services.common.worker import Context, load_gray, register_stage

ctx = Context(kind="detector", default_loader="services.detector.model:load_detector")


def compute(ctx: Context, rec):
    return pipeline.detect(load_gray(ctx, rec), ctx.model()), None


def register(app):
    return register_stage(app, ctx, "detect", compute)
