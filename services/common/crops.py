"""Crops of a job's objects in storage: ``crops/<job>/<i>.png``, one per object, in object order.

The stages never read them (the classifier needs each box's neighbours to widen it, so it works on the
whole sketch; see :func:`services.core.preprocess.widen_boxes`); they are the job's by-product for
clients, debugging and relabelling. So they are written after the job has succeeded, by the last
stage, before its message is acknowledged: off the path a user waits on (written during the classify
stage they slowed it by 13-30 ms on this 2-core machine; ``scripts/bench_services.py``), and a crash
while writing them is a redelivery that writes the missing ones again.
"""

from __future__ import annotations

from PIL import Image

from services.core.imaging import encode_image


def crop_keys(job_id: str, n: int) -> list[str]:
    return [f"crops/{job_id}/{i}.png" for i in range(n)]  # the same keys on a redelivery


def crop_png(gray: Image.Image, box) -> bytes:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    # fastest zlib level: a few percent bigger, several times quicker to write
    return encode_image(gray.crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))), compress_level=1)


def store_crops(storage, gray: Image.Image, items: list[tuple[str, list[float]]]) -> None:
    """Upload ``(key, box)`` crops of ``gray``, one after the other; an upload error is raised (the
    task retries). Not in parallel: they are off the user's path, and a thread pool per job cost more
    CPU (thread starts, hand-offs) than the few milliseconds of round trips it saved."""
    for key, box in items:
        storage.put(key, crop_png(gray, box), "image/png")


def missing_crops(storage, job_id: str, boxes: list) -> list[tuple[str, list[float]]]:
    """The ``(key, box)`` pairs whose crop is not in storage (a crash cut the uploads short)."""
    have = set(storage.list(f"crops/{job_id}/"))
    return [(k, b) for k, b in zip(crop_keys(job_id, len(boxes)), boxes, strict=True) if k not in have]
