"""What the three workers share: a thin stage task around a pure function of ``services.core.pipeline``.

A task receives a job id only. It reads the job record (Redis) and the sketch (S3, by the key in the
record), calls the stage's pure function with the model of this process, stores the result in the job
record and enqueues the next stage. The model is loaded once per process, lazily on the first task,
which under the prefork pool means after the fork, in the child that runs the tasks.

Idempotency: a task whose job is already past its stage (a redelivery after a crash) does no work; it
only re-sends the next stage if that one has not finished either, so a crash between "stored" and
"enqueued" loses nothing, and runs the stage's ``on_redelivery`` hook (the recommender re-stores crops
that a crash cut short, also for a job that has succeeded).

Side outputs off the critical path: ``compute`` may return a third item, a ``finish`` callable (the
recommender's crop uploads). It runs after the result is stored and the next stage is enqueued (or the
job is marked succeeded, so the client is already answered), and before the task returns (so before
the message is acknowledged), on a thread at the lowest CPU priority (:meth:`Context.at_low_priority`):
nobody waits for it, and a crash during it is a redelivery like any other.

Decode once (:mod:`services.common.inline`): a message may carry a small payload besides the job id
(the upload, the detector's clean image); :func:`load_gray` uses it instead of S3 when it is the job's,
and a stage hands the next one its payload with :func:`forward`. Cross-job batching
(:mod:`services.core.batching`): a stage's model call goes through ``ctx.batched``; with the
threads pool, the calls of concurrent tasks become one batched call.

Errors: transient ones (Redis/S3 connections) retry with backoff; anything else, or retries
exhausted, marks the job ``failed`` with a short reason (no stack trace, no secrets).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field

from services.core.contracts import JobStatus

from .job_store import TERMINAL, JobRecord, JobStore
from .queue import (
    NEXT_STAGE,
    TASK_NAMES,
    TRANSIENT_ERRORS,
    enqueue,
    pushes_in_transaction,
    pushing,
    retry_options,
    task_message,
)
from .routing import queue_for
from .settings import CommonSettings, get_settings
from .watchdog import Watchdog

log = logging.getLogger("sketchref.worker")
_PAYLOAD_IN: ContextVar[dict | None] = ContextVar("sketchref_payload_in", default=None)
_PAYLOAD_OUT: ContextVar[dict | None] = ContextVar("sketchref_payload_out", default=None)


def payload() -> dict | None:
    """The inline payload of the message being run (None: read S3)."""
    return _PAYLOAD_IN.get()


def forward(next_payload: dict | None) -> None:
    """What the next stage's message carries besides the job id (set by ``compute``)."""
    _PAYLOAD_OUT.set(next_payload)


def resolve(path: str) -> Callable:
    """``"package.module:function"`` -> the function."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass
class Context:
    """Per-process clients and the model; all created on first use (after fork)."""

    kind: str
    default_loader: str
    # the service's cached settings getter (get_detector_settings, ...): its loader
    # (SKETCHREF_<KIND>_LOADER: test doubles), model folder and URI, batching, Redis
    settings: Callable[[], CommonSettings] = get_settings
    # what a stage without a model folder serves (the recommender's reference provider):
    # serving.model_version
    describe_model: Callable[[], str] | None = None
    _model: object | None = None
    _store: JobStore | None = None
    _storage: object | None = None
    _app: object | None = None
    extra: dict = field(default_factory=dict)
    version: str = ""  # the served model's version, set by serving.prepare
    # items -> one result or exception per item (pipeline.detect_many/classify_many); None: no batching
    batch_fn: Callable | None = None
    _batcher: object | None = None
    _model_thread: ThreadPoolExecutor | None = None
    _side_thread: ThreadPoolExecutor | None = None
    watchdog: Watchdog | None = None  # the threads pool's hard time limits (watchdog.py)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_model_thread(self, fn: Callable, *args):
        """``fn(*args)``, run on this process's one inference thread. Every model call of a worker
        (warm-up and batches) runs there: torch's OpenMP team and the allocator's arena belong to the
        calling thread, so a model first called from a fresh thread pays for them again (measured:
        a threads-pool worker's first job ran detection ~25 ms slower on a task thread that had
        never run the model). A hand-off costs tens of microseconds."""
        with self._lock:
            if self._model_thread is None:
                self._model_thread = ThreadPoolExecutor(1, thread_name_prefix=f"{self.kind}-model")
        return self._model_thread.submit(fn, *args).result()

    def at_low_priority(self, fn: Callable) -> None:
        """``fn()``, run on this process's side-output thread, at the lowest CPU priority (nice 19)
        (``finish`` of a stage: the recommender's crop uploads). They are written once the client has
        its answer, but on a shared machine they competed with sending it: the gateway's answer reached
        the client ~1.5 ms later while they ran at normal priority (2-core machine). Waited for, so
        the message is still acknowledged after them."""
        with self._lock:
            if self._side_thread is None:
                self._side_thread = ThreadPoolExecutor(1, thread_name_prefix=f"{self.kind}-side",
                                                       initializer=_lowest_priority)
        self._side_thread.submit(fn).result()

    def batcher(self):
        with self._lock:
            if self._batcher is None and self.batch_fn is not None:
                from services.core.batching import MicroBatcher

                s, fn = self.settings(), self.batch_fn
                self._batcher = MicroBatcher(lambda items: self.on_model_thread(fn, self, items),
                                             s.batch_max_size, s.batch_max_wait_ms)
        return self._batcher

    def batched(self, item, fn: Callable):
        """The model call of one job, ``fn(ctx, [item])[0]``; batched with those of concurrent tasks of
        this worker (``fn`` becomes the context's ``batch_fn`` if it has none yet)."""
        if self.batch_fn is None:
            self.batch_fn = fn
        return self.batcher().submit(item)

    def loader_path(self) -> str:
        return getattr(self.settings(), "loader", None) or self.default_loader

    def model_uri(self) -> str | None:
        """Where the served model version comes from (``SKETCHREF_<KIND>_MODEL_URI``; None: the
        image's model): services/common/model_source.py."""
        return getattr(self.settings(), "model_uri", None)

    def model(self):
        if self._model is None:
            t0 = time.perf_counter()
            self._model = resolve(self.loader_path())()
            log.info("%s model loaded in %.1f s (pid %d)", self.kind, time.perf_counter() - t0, os.getpid())
        return self._model

    def store(self) -> JobStore:
        if self._store is None:
            import redis

            s = self.settings()
            self._store = JobStore(redis.Redis.from_url(s.redis_url, socket_timeout=10), ttl_s=s.job_ttl_s)
        return self._store

    def storage(self):
        if self._storage is None:
            from .storage import get_storage

            self._storage = get_storage(self.settings())
        return self._storage

    def reset(self) -> None:
        """Forget the clients and the model (tests that swap the model)."""
        self._model = self._store = self._storage = None

    def after_fork(self) -> None:
        """In a freshly forked pool child: forget the clients and threads (not fork-safe); keep the
        warmed model."""
        self._store = self._storage = None
        self._model_thread = self._batcher = self._side_thread = None
        self._lock = threading.Lock()


def _lowest_priority() -> None:
    """Nice 19 for the calling thread (Linux: a thread's own nice value); elsewhere nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (OSError, AttributeError):
        pass


class PermanentError(Exception):
    """A failure that retrying cannot fix; the job is failed at once."""


def load_gray(ctx: Context, rec: JobRecord, flatten: bool = True):
    """The job's sketch, decoded (greyscale on white; ``flatten=False``: in its own mode, colour and
    alpha kept for :func:`services.core.preprocess.clean_sketch`): from the message's inline upload
    when it is the job's (same SHA-256), else from S3."""
    from services.core.imaging import ImageError, load_image

    from .inline import upload_bytes
    from .storage import NotFound

    try:
        data = upload_bytes(payload(), rec.image.sha256 if rec.image else "")
        return load_image(data if data is not None else ctx.storage().get(rec.sketch_key), flatten=flatten)
    except NotFound as exc:
        raise PermanentError("the sketch is missing from storage") from exc
    except ImageError as exc:
        raise PermanentError(f"the sketch cannot be read: {exc.message}") from exc


def load_clean(ctx: Context, rec: JobRecord):
    """The job's clean working image (:func:`services.core.preprocess.clean_sketch`), the one the
    in-process pipeline classifies and recommends with: the detector's, inline in the message when it
    came (no GET, no decode, no second cleaning), else cleaned again from the upload."""
    from services.core.preprocess import clean_sketch

    from .inline import clean_image

    if rec.image is not None:
        clean = clean_image(payload(), rec.image.width, rec.image.height)
        if clean is not None:
            return clean
    return clean_sketch(load_gray(ctx, rec, flatten=False))


Compute = Callable[[Context, JobRecord], tuple]  # (objects, crop_keys | None[, finish])
Redelivery = Callable[[Context, JobRecord], None]


def run_stage(ctx: Context, app, stage: str, job_id: str, compute: Compute,
              on_redelivery: Redelivery | None = None) -> str:
    """One stage for one job; returns what happened (for logs and tests)."""
    store = ctx.store()
    rec = store.get(job_id)
    if rec is None:
        log.warning("%s: job %s not found (expired?)", stage, job_id)
        return "missing"
    rec = store.check_deadline(rec)
    if rec.status == JobStatus.failed:
        return "finished"
    if rec.stage.value != stage:
        return _redelivered(ctx, app, stage, rec, on_redelivery)
    if rec.status != JobStatus.running:  # the first stage: queued -> running
        rec = store.start_stage(job_id, stage, seen=rec) or rec
    t0 = time.perf_counter()
    try:
        objects, crop_keys, *rest = compute(ctx, rec)
    except Exception as exc:
        _stage_done(ctx, stage, job_id, "failed" if isinstance(exc, PermanentError) else "error", t0)
        raise
    finish = rest[0] if rest else None
    elapsed = time.perf_counter() - t0
    nxt = NEXT_STAGE[stage]
    message = None  # the next stage's message, queued in the same transaction as the result
    if nxt is not None and pushes_in_transaction(app):
        message = task_message(nxt, job_id, queue_for(nxt, rec.routes), _PAYLOAD_OUT.get())
    after = store.complete_stage(job_id, stage, nxt, objects, elapsed * 1000, crop_keys,
                                 models={ctx.kind: ctx.version or "unknown"}, also=pushing(message), seen=rec)
    if (message is None and after is not None and nxt is not None and after.stage.value == nxt
            and after.status not in TERMINAL):
        enqueue(app, nxt, job_id, queue_for(nxt, after.routes), _PAYLOAD_OUT.get())
    if finish is not None and after is not None:  # a job deleted meanwhile gets no crops
        ctx.at_low_priority(finish)
    outcome = "done" if after is not None else "skipped"
    _stage_done(ctx, stage, job_id, outcome, t0, elapsed)
    return outcome


def _stage_done(ctx: Context, stage: str, job_id: str, outcome: str, t0: float, elapsed: float | None = None):
    """The stage's log line and metric; ``elapsed`` is the compute time (default: until now)."""
    from .worker_metrics import observe_stage

    elapsed = time.perf_counter() - t0 if elapsed is None else elapsed
    version = ctx.version or "unknown"
    try:
        observe_stage(stage, version, outcome, elapsed)
    except Exception as exc:  # metrics never fail a job
        log.warning("stage metric not recorded: %s", type(exc).__name__)
    log.log(logging.INFO if outcome in ("done", "skipped") else logging.WARNING, "%s %s", stage, outcome,
            extra={"job_id": job_id, "stage": stage, "model_version": version, "outcome": outcome,
                   "duration_ms": round(elapsed * 1000, 2)})


def _redelivered(ctx: Context, app, stage: str, rec: JobRecord, on_redelivery: Redelivery | None) -> str:
    """A task for a stage the job is already past (its message came again after a crash): make sure
    the next stage is on its way and run the stage's side-output repair; no work is redone."""
    order = [*NEXT_STAGE, "done"]
    if rec.stage.value not in order or order.index(rec.stage.value) < order.index(stage):
        return "skipped"  # not there yet (cannot happen in order; left alone)
    if NEXT_STAGE[stage] == rec.stage.value and rec.status not in TERMINAL:
        enqueue(app, rec.stage.value, rec.id, queue_for(rec.stage.value, rec.routes))
    if on_redelivery is not None:
        on_redelivery(ctx, rec)
    return "finished" if rec.status in TERMINAL else "skipped"


def register_stage(app, ctx: Context, stage: str, compute: Compute, on_redelivery: Redelivery | None = None):
    """Define the Celery task of ``stage`` on ``app``; returns it."""
    from celery import Task

    class StageTask(Task):
        def on_failure(self, exc, task_id, args, kwargs, einfo):  # retries exhausted or a bug
            job_id = args[0] if args else kwargs.get("job_id")
            reason = f"{stage} failed: {type(exc).__name__}"
            if isinstance(exc, TRANSIENT_ERRORS):
                reason = f"{stage} failed after retries: {type(exc).__name__}"
            try:
                ctx.store().fail(job_id, reason)
            except Exception:  # Redis itself is down: the deadline sweeper will fail the job later
                log.exception("could not mark job %s failed", job_id)

    @app.task(name=TASK_NAMES[stage], bind=True, base=StageTask, **retry_options(ctx.settings()))
    def stage_task(self, job_id: str, inline: dict | None = None) -> str:
        tokens = _PAYLOAD_IN.set(inline if isinstance(inline, dict) else None), _PAYLOAD_OUT.set(None)
        batcher = ctx.batcher()
        watched = ctx.watchdog.started(job_id, stage) if ctx.watchdog is not None else None
        try:
            if batcher is None:
                return run_stage(ctx, app, stage, job_id, compute, on_redelivery)
            with batcher.arriving():
                return run_stage(ctx, app, stage, job_id, compute, on_redelivery)
        except PermanentError as exc:
            ctx.store().fail(job_id, f"{stage} failed: {exc}")
            return "failed"
        finally:
            if watched is not None and ctx.watchdog is not None:
                ctx.watchdog.finished(watched)
            _PAYLOAD_IN.reset(tokens[0])
            _PAYLOAD_OUT.reset(tokens[1])

    os.register_at_fork(after_in_child=ctx.after_fork)
    return stage_task


def job_status_done(rec: JobRecord | None) -> bool:
    return rec is not None and rec.status in (JobStatus.succeeded, JobStatus.failed)
