"""Celery wiring shared by the gateway (producer) and the three workers (consumers).

There is no import-time app: :func:`make_celery` builds one from settings, so tests and each process
choose their own Redis. Work is sent *by task name* (``send_task``) so the gateway never imports a
worker module, and every task name is routed to exactly one queue, so each worker type consumes one
queue and scales on its own.

Delivery guarantees (DESIGN.md §1, §6):

- ``acks_late``: a message is acknowledged after its task finished, so a worker killed mid-task
  leaves the message unacknowledged; Redis redelivers it once ``visibility_timeout`` has passed.
- ``reject_on_worker_lost``: a pool child killed mid-task requeues the message at once.
- prefetch 1: a worker reserves one message at a time, so a slow worker does not hoard work.
- transient errors (connection problems with Redis or S3) retry with exponential backoff and jitter;
  see :data:`TRANSIENT_ERRORS` and :func:`retry_options`.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from .settings import CommonSettings, get_settings

QUEUES = ("detect", "classify", "recommend")
TASK_NAMES = {q: f"sketchref.{q}" for q in QUEUES}
NEXT_STAGE = {"detect": "classify", "classify": "recommend", "recommend": None}
# Which worker kind consumes which queue.
WORKER_QUEUES = {"detector": "detect", "classifier": "classify", "recommender": "recommend"}


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHREF_QUEUE_", extra="ignore")

    # Seconds after which an unacknowledged message (its worker died) is delivered again.
    # Must be longer than the slowest stage; stages are idempotent, so a redelivery is harmless.
    visibility_timeout: float = 300.0
    max_retries: int = 5
    retry_backoff_max: int = 60
    # Seconds the gateway keeps trying to publish before it answers 503.
    publish_retries: int = 3


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


def retry_options(qs: QueueSettings | None = None) -> dict:
    """Options for ``@app.task``: retry transient errors with exponential backoff and jitter."""
    qs = qs or QueueSettings()
    return {
        "autoretry_for": TRANSIENT_ERRORS,
        "retry_backoff": True,
        "retry_backoff_max": qs.retry_backoff_max,
        "retry_jitter": True,
        "max_retries": qs.max_retries,
    }


def task_routes() -> dict[str, dict[str, str]]:
    return {TASK_NAMES[q]: {"queue": q, "routing_key": q} for q in QUEUES}


def make_celery(settings: CommonSettings | None = None, queue_settings: QueueSettings | None = None):
    """A Celery app on the configured Redis, with the routing and delivery options above."""
    from celery import Celery
    from kombu import Queue

    s = settings or get_settings()
    qs = queue_settings or QueueSettings()
    app = Celery("sketchref", broker=s.redis_url, set_as_current=False)
    app.conf.update(
        task_queues=[Queue(q, routing_key=q) for q in QUEUES],
        task_default_queue="detect",
        task_routes=task_routes(),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            "visibility_timeout": qs.visibility_timeout,
            # kombu sweeps for abandoned messages every interval x throttle seconds (default 100 s);
            # sweep every interval so a crashed worker's task comes back soon after the timeout
            "unacked_restore_interval": max(1, int(min(10.0, qs.visibility_timeout / 4))),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": qs.publish_retries, "interval_start": 0, "interval_step": 0.5, "interval_max": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


def enqueue(app, stage: str, job_id: str, queue: str | None = None) -> None:
    """Send the task of ``stage`` for ``job_id``: the message is only the job id. ``queue``: a model
    version's own queue (``classify@v4``, see :mod:`services.common.routing`); default the stage's."""
    queue = queue or stage
    app.send_task(TASK_NAMES[stage], args=[job_id], queue=queue, routing_key=queue)


def queue_depths(redis_client) -> dict[str, int]:
    """Messages waiting in each queue (kombu's Redis transport keeps a queue as a list of its name)."""
    pipe = redis_client.pipeline(transaction=False)
    for q in QUEUES:
        pipe.llen(q)
    return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
