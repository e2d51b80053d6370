"""``sketchref worker detector|classifier|recommender``: one Celery worker consuming one queue.

What a container runs. The model is loaded once per process, on the first task (after the fork
under the default prefork pool); ``--pool solo`` runs tasks in the main process (GPU).
"""

from __future__ import annotations

import importlib
import logging
import os
import socket

from services.common.queue import WORKER_QUEUES


def add_arguments(parser) -> None:
    parser.add_argument("kind", choices=sorted(WORKER_QUEUES), help="which stage to run")
    parser.add_argument("--concurrency", "-c", type=int, default=1, help="tasks at once (default 1)")
    parser.add_argument("--pool", "-P", default="prefork", choices=["prefork", "solo", "threads"])
    parser.add_argument("--loglevel", "-l", default="info")
    parser.add_argument("--name", default=None, help="node name (default <kind>-<pid>@<host>)")


def build_app(kind: str):
    from services.common.queue import make_celery

    app = make_celery()
    importlib.import_module(f"services.{kind}.worker").register(app)
    return app


def run(args) -> int:
    logging.basicConfig(level=args.loglevel.upper(), format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    app = build_app(args.kind)
    queue = WORKER_QUEUES[args.kind]
    name = args.name or f"{args.kind}-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(["worker", "-Q", queue, "-c", str(args.concurrency), "-P", args.pool, "-n", name,
                     "-l", args.loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat"])
    return 0
