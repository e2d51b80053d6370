"""What a worker does before it takes its first task: ready means able to work.

:func:`prepare` runs in the worker's main process before Celery starts consuming (``sketchref worker``):

1. resolve the model folder from ``SKETCHREF_<KIND>_MODEL_URI`` (downloading an S3 version once),
2. check it (:func:`services.common.model_registry.verify_model_dir`: every file against the
   manifest's SHA-256, or ``config.json`` present) and name its version,
3. load the model and run one warm-up inference on a small drawn sketch (the first inference of a
   fresh process costs seconds: lazy kernels, allocator, ONNX session set-up).

Under the prefork pool the children are forked afterwards and share the loaded, warmed model (copy
on write), so the first job of a fresh worker costs what a warm one does. (torch stays
single-threaded in the parent until then, :func:`fork_safe_torch`: forking after OpenMP ran hangs;
each child runs one more warm-up with its own threads before Celery sends it a task.) Only then does the worker's
Celery node exist, so the probe k8s and compose use (``python -m services.common.probe worker``: this
host's node answers a ping) cannot pass before the model works. A model that cannot be loaded ends
the process with status 3 and one log line (:func:`fail`), before any message is taken.

:class:`Heartbeat` publishes what the worker serves to Redis (``sketchref:workers:<node>``, expiring
after ``ttl_s``, refreshed every ``ttl_s / 3``); the gateway's ``/v1/version`` lists it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import sys
import threading
import time

log = logging.getLogger("sketchref.worker")

WORKERS_PREFIX = "sketchref:workers:"
EXIT_MODEL = 3  # exit status of a worker whose model cannot be loaded


def model_version(ctx) -> str:
    """Resolve and check the model folder ``ctx``'s stage settings name (``model_dir``, or the
    version ``model_uri`` points at); its version (raises on a bad one). A stage without a
    model folder (the recommender: its "model" is its reference provider) names itself
    (``ctx.describe_model``)."""
    from .model_registry import KINDS, verify_model_dir
    from .model_source import service_model_dir

    s = ctx.settings()
    if ctx.kind not in KINDS or not hasattr(s, "model_dir"):
        return ctx.describe_model() if ctx.describe_model is not None else "unknown"
    return verify_model_dir(service_model_dir(ctx.kind, s), ctx.kind)


WARM_BOXES = ((40.0, 60.0, 190.0, 210.0), (290.0, 70.0, 460.0, 240.0), (150.0, 300.0, 360.0, 470.0))


def warm_sketch():
    """A 512×512 drawing of a circle, a square and a triangle, like a real sketch: the warm-up runs the
    shapes a first job brings (the detector's letterboxed input, a batch of three crops), so the
    first job finds its buffers allocated."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (512, 512), 255)
    d = ImageDraw.Draw(img)
    d.ellipse(WARM_BOXES[0], outline=0, width=6)
    d.rectangle(WARM_BOXES[1], outline=0, width=6)
    d.polygon([(150, 470), (255, 300), (360, 470)], outline=0, width=6)
    return img


def warm_up(kind: str, model) -> None:
    """One real inference through the stage's pure function. The recommender asks its local gallery
    (for Unsplash: the gallery it falls back to; an Unsplash request per worker start would spend the
    rate limit), which builds the gallery's index on first use of a fresh storage."""
    from services.core import pipeline
    from services.core.contracts import DetectedObject

    gray = warm_sketch()
    if kind == "detector":  # the workers' own (batched) calls, twice: the first builds the runtime's
        for _ in range(2):  # session, which the detector may then rebuild with its options (model.py)
            pipeline.detect_many([gray], model)
    elif kind == "classifier":
        boxes = [DetectedObject(box=list(b), score=1.0, detector_label="object") for b in WARM_BOXES]
        pipeline.classify_many([(gray, boxes, 5)], model)
    elif kind == "recommender":  # the local gallery is built (once, into S3) now, not during the first job
        local = getattr(model, "fallback", None) if getattr(model, "name", "") == "unsplash" else model
        if local is not None and hasattr(local, "ensure_built"):
            local.ensure_built()
        if local is not None and hasattr(local, "recommend"):
            for label, box in zip(("circle", "square", "triangle"), WARM_BOXES, strict=True):
                local.recommend(label, 3, gray.crop(tuple(int(v) for v in box)))


def fork_safe_torch() -> None:
    """Before a prefork pool: keep torch single-threaded in this (parent) process and give each forked
    child its thread count back. A parent whose OpenMP pool has run a parallel region leaves its
    children hanging in their first parallel region (seen: the classifier's first task never ended);
    a parent that never started the pool is safe to fork."""
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    os.register_at_fork(after_in_child=lambda: torch.set_num_threads(n))


def warm_clients(ctx) -> None:
    """Create this process's Redis and S3 clients and make one request each (a boto3 client costs
    hundreds of ms to build: it would otherwise land on the first job)."""
    try:
        ctx.store().r.ping()
        ctx.storage().exists("__warmup__")
    except Exception as exc:  # a backend down now is the first task's (retried) problem, not start-up's
        log.warning("warming the clients failed: %s", type(exc).__name__)


def warm_child(ctx) -> None:
    """In a freshly forked pool child, before it is sent a task: clients, then one inference (on the
    child's model thread, where its tasks' model calls run)."""
    warm_clients(ctx)
    model = ctx.model()
    if getattr(model, "threads", 0) and "torch" in sys.modules:  # the model's own thread count, not the
        sys.modules["torch"].set_num_threads(model.threads)  # one fork_safe_torch gave back to the child
    ctx.on_model_thread(warm_up, ctx.kind, model)


def prepare(ctx, fork_after: bool = False) -> str:
    """Check, load and warm up the model of ``ctx`` (a :class:`services.common.worker.Context`);
    sets and returns ``ctx.version``. Raises whatever the loading raised. ``fork_after``: a prefork
    pool will fork the children from this process (:func:`fork_safe_torch` first)."""
    if fork_after and ctx.kind in ("detector", "classifier"):
        fork_safe_torch()
    t0 = time.perf_counter()
    ctx.version = model_version(ctx)
    model = ctx.model()
    t1 = time.perf_counter()
    if fork_after:  # no thread may start before the fork; each child warms its own (warm_child)
        warm_up(ctx.kind, model)
    else:
        ctx.on_model_thread(warm_up, ctx.kind, model)
    log.info("%s model %s loaded in %.1f s, warmed up in %.2f s", ctx.kind, ctx.version, t1 - t0,
             time.perf_counter() - t1)
    return ctx.version


def fail(ctx, exc: BaseException) -> int:
    """The one log line of a worker that cannot serve its model; the exit status."""
    from .probe import _redact

    uri = ctx.model_uri() or "(the image's model)"
    log.error("%s model cannot be loaded from %s: %s: %s; exiting before taking any task", ctx.kind, _redact(uri),
              type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    return EXIT_MODEL


class Heartbeat:
    """A daemon thread that keeps ``sketchref:workers:<node>`` alive in Redis while the worker runs."""

    def __init__(self, redis_client, node: str, info: dict, ttl_s: float = 30.0):
        self.r, self.key, self.ttl_s = redis_client, WORKERS_PREFIX + node, ttl_s
        self.info = {**info, "node": node, "host": socket.gethostname(), "pid": os.getpid(),
                     "started_at": time.time()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sketchref-heartbeat", daemon=True)

    def beat(self) -> None:
        self.r.set(self.key, json.dumps(self.info), ex=max(1, int(self.ttl_s)))

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                self.beat()
            except Exception as exc:  # Redis away for a moment: the next beat tries again
                log.warning("heartbeat failed: %s", type(exc).__name__)

    def start(self) -> Heartbeat:
        try:
            self.beat()
        except Exception as exc:
            log.warning("heartbeat failed: %s", type(exc).__name__)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self.r.delete(self.key)
        except Exception:
            pass


def serving(redis_client) -> list[dict]:
    """Every live worker's heartbeat: kind, version, queue, node, host, pid, started_at."""
    out = []
    for key in redis_client.scan_iter(match=WORKERS_PREFIX + "*", count=200):
        raw = redis_client.get(key)
        if raw:
            out.append(json.loads(raw))
    return sorted(out, key=lambda d: (d.get("kind", ""), d.get("version", ""), d.get("node", "")))
