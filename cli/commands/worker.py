"""``sketchref worker detector|classifier|recommender``: one Celery worker consuming one queue.

What a container runs. Before it consumes anything the worker loads its model, checks it against its
manifest and runs one warm-up inference (:mod:`services.common.serving`); a model that cannot be
loaded ends the process with status 3 and one log line, so its Celery node never appears and the
probe (``python -m services.common.probe worker``) never passes. Prefork children share the warm model.

``--model-version V`` serves version ``V`` of the registry (``s3://<bucket>/models/<kind>/V/``) on
its own queue ``<stage>@V``: the canary worker (docs/operators.md, "Canary and rollback").
``--metrics-port`` serves Prometheus metrics (:mod:`services.common.worker_metrics`); logs are JSON
lines (:mod:`services.common.logs`) unless ``--log-format text``. While it runs, the worker publishes
what it serves to Redis (the gateway's ``/v1/version``).
"""

from __future__ import annotations

import importlib
import os
import socket

from services.common.queue import WORKER_QUEUES


def add_arguments(parser) -> None:
    parser.add_argument("kind", choices=sorted(WORKER_QUEUES), help="which stage to run")
    parser.add_argument("--concurrency", "-c", type=int, default=1, help="tasks at once (default 1)")
    parser.add_argument("--pool", "-P", default="prefork", choices=["prefork", "solo", "threads"])
    parser.add_argument("--batch-size", type=int, default=None,
                        help="cross-job batch size B of the detector/classifier (default $SKETCHREF_BATCH_MAX_SIZE, 8); "
                             "batches form with the threads pool and concurrency >= B")
    parser.add_argument("--batch-wait-ms", type=float, default=None,
                        help="longest wait for a batch to fill, only while tasks are on their way "
                             "(default $SKETCHREF_BATCH_MAX_WAIT_MS, 10)")
    parser.add_argument("--loglevel", "-l", default="info")
    parser.add_argument("--log-format", default=None, choices=["json", "text"],
                        help="log lines as JSON or text (default $SKETCHREF_LOG_FORMAT, json)")
    parser.add_argument("--name", default=None, help="node name (default <kind>-<pid>@<host>)")
    parser.add_argument("--model-version", default=None,
                        help="serve this registry version on its own queue <stage>@VERSION (a canary)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics on this port (default $SKETCHREF_WORKER_METRICS_PORT; 0: off)")


def build_app(kind: str):
    from services.common.queue import make_celery

    module = importlib.import_module(f"services.{kind}.worker")
    app = make_celery(module.ctx.settings())
    module.register(app)
    return app


def _pinned_uri(kind: str, version: str) -> str:
    """The model URI of registry version ``version`` (what ``--model-version`` serves)."""
    from services.common.model_registry import KINDS, Registry
    from services.common.settings import get_settings

    if kind not in KINDS:
        raise SystemExit(f"--model-version: the {kind} has no model versions")
    Registry(None)._prefix(kind, version)  # refuses a malformed name
    return f"s3://{get_settings().s3_bucket}/models/{kind}/{version}/"


def flags(args) -> dict:
    """The worker's command-line values that win over its settings from the environment (given
    ones only): ``--batch-size``, ``--batch-wait-ms``, ``--model-version`` (as the model URI)."""
    out: dict = {}
    if getattr(args, "batch_size", None):
        out["batch_max_size"] = args.batch_size
    if getattr(args, "batch_wait_ms", None) is not None:
        out["batch_max_wait_ms"] = args.batch_wait_ms
    if getattr(args, "model_version", None):
        out["model_uri"] = _pinned_uri(args.kind, args.model_version)
    return out


def apply_flags(ctx, values: dict) -> None:
    """Put ``values`` on top of the settings of the stage ``ctx`` (its cached getter is refreshed)."""
    from services.common.settings import set_flags

    if values:
        set_flags(type(ctx.settings()), **values)
        getattr(ctx.settings, "cache_clear", lambda: None)()


def run(args) -> int:
    from services.common import logs, serving, worker_metrics
    from services.common.routing import version_queue
    from services.common.settings import get_settings

    s = get_settings()
    if args.log_format is None:
        args.log_format = s.log_format
    if args.metrics_port is None:
        args.metrics_port = s.worker_metrics_port
    logs.configure(args.loglevel, args.log_format)
    logs.quiet_task_lines(args.loglevel)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    queue = WORKER_QUEUES[args.kind]
    values = flags(args)  # a bad --model-version ends here, before anything starts
    if args.model_version:
        queue = version_queue(queue, args.model_version)
    folder = worker_metrics.setup(args.kind, args.metrics_port, s.worker_metrics_addr)  # before any metric exists
    try:
        module = importlib.import_module(f"services.{args.kind}.worker")
        apply_flags(module.ctx, values)
        try:
            version = serving.prepare(module.ctx, fork_after=args.pool == "prefork")
        except Exception as exc:
            return serving.fail(module.ctx, exc)
        if args.model_version and version != args.model_version:
            return serving.fail(module.ctx, ValueError(f"the manifest says {version}, not {args.model_version}"))
        return _consume(args, module, queue, version)
    finally:
        worker_metrics.cleanup(folder)


def _watchdog(ctx):
    from services.common.queue import QUEUES, TASK_NAMES, time_limits
    from services.common.watchdog import Watchdog

    limits = time_limits(ctx.settings())
    return Watchdog({q: limits[TASK_NAMES[q]]["time_limit"] for q in QUEUES},
                    lambda job_id, stage, limit: ctx.store().fail(job_id, f"{stage} exceeded its time limit of {limit:.0f} s"))


def _consume(args, module, queue: str, version: str) -> int:
    import redis
    from celery.signals import worker_process_init, worker_process_shutdown, worker_ready

    from services.common import serving, worker_metrics
    from services.common.queue import NEXT_STAGE, WORKER_QUEUES, make_celery, warm_publisher

    settings = module.ctx.settings()
    app = make_celery(settings)
    module.register(app)
    nxt = NEXT_STAGE[WORKER_QUEUES[args.kind]]
    publishes_to = [nxt] if nxt else []  # warmed too: a first publish costs tens of ms (queue.py)

    def warm_child() -> None:
        serving.warm_child(module.ctx)
        warm_publisher(app, publishes_to)

    if args.pool == "prefork":
        # each pool child runs one more warm-up inference before it is sent any task (its own threads,
        # allocator and kernels); Celery waits for a child's start-up at most this long
        app.conf.worker_proc_alive_timeout = 120.0
        worker_process_init.connect(lambda **_: warm_child(), weak=False)
    else:
        serving.warm_clients(module.ctx)
        warm_publisher(app, publishes_to)
        if args.pool == "threads":  # Celery's time limits need prefork; the watchdog enforces them here
            module.ctx.watchdog = _watchdog(module.ctx).start()
    worker_process_shutdown.connect(lambda pid=None, **_: worker_metrics.process_exited(pid or os.getpid()),
                                    weak=False)
    worker_metrics.serving(args.kind, version, queue)
    name = args.name or f"{args.kind}-{os.getpid()}@{socket.gethostname()}"
    beat = serving.Heartbeat(redis.Redis.from_url(settings.redis_url, socket_timeout=5), name,
                             {"kind": args.kind, "version": version, "queue": queue,
                              "metrics_port": args.metrics_port})
    # announced (/v1/version, the gateway's no-worker check) once Celery consumes, not before: a job sent
    # while the consumer was still starting waited for it (up to a few hundred ms on the first job)
    worker_ready.connect(lambda **_: beat.start(), weak=False)
    try:
        app.worker_main(["worker", "-Q", queue, "-c", str(args.concurrency), "-P", args.pool, "-n", name,
                         "-l", args.loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat"])
    finally:
        beat.stop()
    return 0
