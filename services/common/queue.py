"""Celery wiring shared by the gateway (producer) and the three workers (consumers).

There is no import-time app: :func:`make_celery` builds one from settings, so tests and each process
choose their own Redis. Work is sent *by task name* (``send_task``) so the gateway never imports a
worker module, and every task name is routed to exactly one queue, so each worker type consumes one
queue and scales on its own.

Delivery guarantees (DESIGN.md §1, §6):

- ``acks_late``: a message is acknowledged after its task finished, so a worker killed mid-task
  leaves the message unacknowledged; Redis redelivers it once ``queue_visibility_timeout`` has passed.
  That timeout is short (15 s): the worker's main process renews a lease on each message it holds
  every ``queue_lease_renew_s`` (services/common/lease.py), so a slow stage is never delivered twice while
  its worker lives, and a dead worker's message is back within ~20 s (timeout + restore interval).
- ``reject_on_worker_lost``: a pool child killed mid-task requeues the message at once, at the front
  of its queue (``lease.FrontRequeueTransport``, for ``redis://``; kombu would put it at the back).
- per-stage time limits (``queue_time_limit_s``/``queue_soft_time_limit_s``, prefork pool only): at the soft
  limit the task raises ``SoftTimeLimitExceeded`` and the job is marked failed with that reason; the
  hard limit kills a pool child that ignores it.
- prefetch 1: a worker reserves one message at a time, so a slow worker does not hoard work.
- transient errors (connection problems with Redis or S3) retry with exponential backoff and jitter;
  see :data:`TRANSIENT_ERRORS` and :func:`retry_options`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .settings import CommonSettings, get_settings

log = logging.getLogger("sketchref.queue")

# The pipeline, in order: (stage, the worker kind that runs it). A stage's queue is named after it.
# Everything else is derived from this one table: the queues, the task names, each stage's next,
# which worker consumes which queue, the workers `sketchref up` starts, what
# scripts/validate_deploy.py expects of the manifests; tests check the job contract's Stage enum
# (services/core/contracts.py) against it.
PIPELINE: tuple[tuple[str, str], ...] = (("detect", "detector"), ("classify", "classifier"),
                                         ("recommend", "recommender"))


class StageTables(NamedTuple):
    queues: tuple[str, ...]
    task_names: dict[str, str]
    next_stage: dict[str, str | None]
    worker_queues: dict[str, str]  # which worker kind consumes which queue


def stage_tables(pipeline: Sequence[tuple[str, str]]) -> StageTables:
    """The tables derived from a pipeline table (the module's constants are those of ``PIPELINE``;
    tests/project/test_add_a_stage.py derives them from one with a stub stage)."""
    queues = tuple(stage for stage, _ in pipeline)
    return StageTables(
        queues=queues,
        task_names={q: f"sketchref.{q}" for q in queues},
        next_stage={q: queues[i + 1] if i + 1 < len(queues) else None for i, q in enumerate(queues)},
        worker_queues={kind: stage for stage, kind in pipeline},
    )


QUEUES, TASK_NAMES, NEXT_STAGE, WORKER_QUEUES = stage_tables(PIPELINE)


DEFAULT_TIME_LIMIT_S, DEFAULT_SOFT_TIME_LIMIT_S = 120.0, 100.0  # a stage's limits unless set


def _transient_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions
    from botocore import exceptions as bexc

    return (
        ConnectionError,
        TimeoutError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        bexc.EndpointConnectionError,
        bexc.ConnectTimeoutError,
        bexc.ReadTimeoutError,
        bexc.ConnectionClosedError,
    )


TRANSIENT_ERRORS = _transient_errors()


def retry_options(s: CommonSettings | None = None) -> dict:
    """Options for ``@app.task``: retry transient errors with exponential backoff and jitter."""
    s = s or get_settings()
    return {
        "autoretry_for": TRANSIENT_ERRORS,
        "retry_backoff": True,
        "retry_backoff_max": s.queue_retry_backoff_max,
        "retry_jitter": True,
        "max_retries": s.queue_max_retries,
    }


def task_routes() -> dict[str, dict[str, str]]:
    return {TASK_NAMES[q]: {"queue": q, "routing_key": q} for q in QUEUES}


def time_limits(s: CommonSettings) -> dict[str, dict[str, float]]:
    """``task_annotations``: each stage's task gets its ``time_limit`` and ``soft_time_limit``."""
    out = {}
    for q in QUEUES:
        hard = float(s.queue_time_limit_s.get(q, DEFAULT_TIME_LIMIT_S))
        soft = float(s.queue_soft_time_limit_s.get(q, DEFAULT_SOFT_TIME_LIMIT_S))
        out[TASK_NAMES[q]] = {"time_limit": hard, "soft_time_limit": min(soft, hard)}
    return out


def make_celery(settings: CommonSettings | None = None):
    """A Celery app on the configured Redis, with the routing and delivery options above (a worker
    started from it renews the leases of its messages: services/common/lease.py)."""
    from celery import Celery
    from kombu import Queue

    s = settings or get_settings()
    app = Celery("sketchref", broker=s.redis_url, set_as_current=False)
    if s.redis_url.startswith("redis://"):  # rediss:// (TLS) keeps kombu's own transport
        from .lease import TRANSPORT

        app.conf.broker_transport = TRANSPORT
    app.conf.update(
        task_queues=[Queue(q, routing_key=q) for q in QUEUES],
        task_default_queue="detect",
        task_routes=task_routes(),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_annotations=time_limits(s),
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            "visibility_timeout": s.queue_visibility_timeout,
            # kombu sweeps for abandoned messages every interval x throttle seconds (default 100 s);
            # sweep every interval so a crashed worker's task comes back soon after the timeout
            "unacked_restore_interval": max(1, int(min(10.0, s.queue_visibility_timeout / 4))),
            # kombu's lock around a restore: a consumer killed while holding it must not block
            # restores for kombu's default 5 minutes
            "unacked_mutex_expire": max(10, int(s.queue_visibility_timeout)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": s.queue_publish_retries, "interval_start": 0, "interval_step": 0.5, "interval_max": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    from . import lease, retention

    app.steps["worker"].add(lease.make_bootstep(s.queue_lease_renew_s))
    app.steps["worker"].add(retention.make_bootstep(s))  # services/common/retention.py
    return app


def enqueue(app, stage: str, job_id: str, queue: str | None = None, inline: dict | None = None) -> None:
    """Send the task of ``stage`` for ``job_id``: the message is the job id, plus optionally a small
    inline payload (:mod:`services.common.inline`). ``queue``: a model version's own queue
    (``classify@v4``, see :mod:`services.common.routing`); default the stage's."""
    queue = queue or stage
    app.send_task(TASK_NAMES[stage], args=[job_id] if not inline else [job_id, inline], queue=queue,
                  routing_key=queue)


def pushes_in_transaction(app) -> bool:
    """Whether a stage message for ``app``'s broker can be pushed inside a job record's transaction
    (:func:`task_message`): the broker is the job store's Redis, through our transport (``redis://``;
    over ``rediss://`` kombu's own transport publishes, through :func:`enqueue`)."""
    from .lease import TRANSPORT

    return app.conf.broker_transport == TRANSPORT


_NO_CALLBACKS = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def task_message(stage: str, job_id: str, queue: str | None = None, inline: dict | None = None
                 ) -> tuple[str, str]:
    """The Redis list and the message that :func:`enqueue` would push for ``stage``: Celery's task
    protocol 2 (a JSON body ``[args, kwargs, embed]``, the task headers) in the envelope kombu's Redis
    transport stores (body base64, delivery info). Built here so that a stage's message goes into the
    job record's own transaction (``JobStore.create``/``update``'s ``also``): the record moves to a
    stage and the stage's message is queued together or not at all, in the one round trip the record
    costs anyway. ``send_task`` took a second round trip and ~0.5 ms of Python per message (1.6 ms a
    hop in a busy worker). tests/common/test_task_message.py holds it to what Celery builds, and a
    Celery worker runs it. A priority-0 message goes to the list named after its queue."""
    queue = queue or stage
    task_id = str(uuid.uuid4())
    args = [job_id] if not inline else [job_id, inline]
    body = json.dumps([args, {}, _NO_CALLBACKS]).encode()
    headers = {
        "lang": "py", "task": TASK_NAMES[stage], "id": task_id, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
        "parent_id": None, "argsrepr": repr([job_id, "<inline payload>"] if inline else [job_id]),
        "kwargsrepr": "{}", "origin": f"gen{os.getpid()}@{socket.gethostname()}", "ignore_result": None,
        "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
    }
    properties = {
        "correlation_id": task_id, "reply_to": None, "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0, "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    return queue, json.dumps({"body": base64.b64encode(body).decode("ascii"), "content-encoding": "utf-8",
                              "content-type": "application/json", "headers": headers, "properties": properties})


def pushing(message: tuple[str, str] | None):
    """The ``also`` of ``JobStore.create``/``complete_stage`` that queues a :func:`task_message` in the
    record's transaction (None: no message, nothing added)."""
    if message is None:
        return None
    name, body = message
    return lambda pipe: pipe.lpush(name, body)


def warm_publisher(app, queues: Iterable[str]) -> None:
    """Pay this process's first-publish costs now, not on its first job: Celery builds its result
    backend on the first ``send_task`` (an entry-point scan) and kombu declares each queue once per
    connection (a new pooled Redis connection). Measured here: a first ``send_task`` 26-43 ms, later
    ones ~0.5 ms; after this, ~2 ms. Declaring is harmless (a Redis list is a queue; nothing is sent).
    Best effort: a broker down now is the first job's (retried) problem."""
    try:
        app.backend  # noqa: B018 - built on first access
        with app.producer_or_acquire() as producer:
            for q in queues:
                producer.maybe_declare(app.amqp.queues[q])
    except Exception as exc:  # noqa: BLE001 - start-up goes on; the first publish pays instead
        log.warning("warming the publisher failed: %s", type(exc).__name__)


def queue_depths(redis_client) -> dict[str, int]:
    """Messages waiting in each queue (kombu's Redis transport keeps a queue as a list of its name)."""
    pipe = redis_client.pipeline(transaction=False)
    for q in QUEUES:
        pipe.llen(q)
    return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
