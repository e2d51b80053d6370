"""The detector worker: consumes queue ``detect``; finds the objects and stores their crops in S3.

``sketchref worker detector`` runs it. The task is thin: job id in, :func:`pipeline.detect` on the
sketch read from storage, objects into the job record, crops to ``crops/<job>/<i>.png``, then the
``classify`` stage is enqueued.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

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
    keys = [f"crops/{rec.id}/{i}.png" for i in range(len(objects))]  # same keys on a redelivery
    storage = ctx.storage()
    with ThreadPoolExecutor(max_workers=4) as pool:  # S3 round trips in parallel
        list(pool.map(lambda kb: storage.put(kb[0], crop_png(gray, kb[1]), "image/png"),
                      zip(keys, [o.box for o in objects], strict=True)))
    return objects, keys


def register(app):
    return register_stage(app, ctx, "detect", compute)
