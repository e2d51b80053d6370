"""The detector worker: consumes queue ``detect``; finds the objects and stores their crops in S3.

``sketchref worker detector`` runs it. The task is thin: job id in, :func:`pipeline.detect` on the
sketch read from storage, objects into the job record, then the ``classify`` stage is enqueued. The
crops (``crops/<job>/<i>.png``, one per object) are encoded and uploaded in threads meanwhile and
finished before the task returns: the classifier works from the sketch and the boxes, so it need not
wait for them. A redelivered task re-stores any crop that a crash cut short.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from services.common import pipeline
from services.common.imaging import encode_image
from services.common.worker import Context, load_gray, register_stage

ctx = Context(kind="detector", default_loader="services.detector.model:load_detector")


def crop_keys(job_id: str, n: int) -> list[str]:
    return [f"crops/{job_id}/{i}.png" for i in range(n)]  # the same keys on a redelivery


def crop_png(gray, box) -> bytes:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    # fastest zlib level: a few percent bigger, several times quicker to write
    return encode_image(gray.crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))), compress_level=1)


def store_crops(ctx: Context, gray, items: list[tuple[str, list[float]]]):
    """Start uploading ``(key, box)`` crops in threads; returns the callable that waits for them."""
    storage = ctx.storage()
    pool = ThreadPoolExecutor(max_workers=4)  # S3 round trips in parallel
    futures = [pool.submit(lambda k, b: storage.put(k, crop_png(gray, b), "image/png"), key, box)
               for key, box in items]
    pool.shutdown(wait=False)

    def finish() -> None:
        for f in futures:
            f.result()  # re-raises an upload error: the task retries

    return finish


def compute(ctx: Context, rec):
    gray = load_gray(ctx, rec)
    objects = pipeline.detect(gray, ctx.model())
    keys = crop_keys(rec.id, len(objects))
    finish = store_crops(ctx, gray, list(zip(keys, [o.box for o in objects], strict=True)))
    return objects, keys, finish


def restore_missing_crops(ctx: Context, rec) -> None:
    """On a redelivery after the detect stage: upload the crops a crash left out."""
    have = set(ctx.storage().list(f"crops/{rec.id}/"))
    missing = [(k, o.box) for k, o in zip(rec.crop_keys, rec.objects, strict=False) if k not in have]
    if missing:
        store_crops(ctx, load_gray(ctx, rec), missing)()


def register(app):
    return register_stage(app, ctx, "detect", compute, on_redelivery=restore_missing_crops)
