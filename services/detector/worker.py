"""The detector worker: consumes queue ``detect``; finds the objects and stores their crops in S3.

``sketchref worker detector`` runs it. The task is thin: job id in, :func:`pipeline.detect` on the
sketch read from storage, objects into the job record, crops to ``crops/<job>/<i>.png``, then the
``classify`` stage is enqueued.
"""

from __future__ import annotations

import io

from services.common import pipeline
from services.common.worker import Context, load_gray, register_stage

ctx = Context(kind="detector", default_loader="services.detector.model:load_detector")


def crop_png(gray, box) -> bytes:
    buf = io.BytesIO()
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    gray.crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))).save(buf, format="PNG")
    return buf.getvalue()


def compute(ctx: Context, rec):
    gray = load_gray(ctx, rec)
    objects = pipeline.detect(gray, ctx.model())
    keys = []
    for i, obj in enumerate(objects):
        key = f"crops/{rec.id}/{i}.png"
        ctx.storage().put(key, crop_png(gray, obj.box), "image/png")  # same key on redelivery
        keys.append(key)
    return objects, keys


def register(app):
    return register_stage(app, ctx, "detect", compute)
