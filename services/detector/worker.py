"""The detector worker: consumes queue ``detect``; finds the objects.

``sketchref worker detector`` runs it. The task is thin: job id in, the sketch (inline in the message
or from storage) decoded and cleaned once, its model call batched with those of concurrent tasks
(:func:`pipeline.detect_many`), objects (boxes, scores) into the job record, then the ``classify``
stage is enqueued carrying the clean image inline (:mod:`services.common.inline`). The crops of the
boxes are stored when the job has succeeded (:mod:`services.common.crops`).
"""

from __future__ import annotations

from services.common.inline import with_clean
from services.common.worker import Context, forward, load_gray, payload, register_stage
from services.core import pipeline
from services.core.preprocess import clean_sketch

from .settings import get_detector_settings


def detect_batch(ctx: Context, cleans: list) -> list:
    return pipeline.detect_many(cleans, ctx.model())


ctx = Context(kind="detector", default_loader="services.detector.model:load_detector", batch_fn=detect_batch,
              settings=get_detector_settings)


def compute(ctx: Context, rec):
    clean = clean_sketch(load_gray(ctx, rec, flatten=False))  # colour reaches the normalisation
    objects = ctx.batched(clean, detect_batch)
    forward(with_clean(payload(), clean, ctx.settings().queue_inline_max_bytes))
    return objects, None


def register(app):
    return register_stage(app, ctx, "detect", compute)
