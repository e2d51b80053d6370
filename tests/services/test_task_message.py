"""Stage messages pushed in the job record's transaction (queue.task_message) are the messages Celery
would send, and go out with the record's change or not at all. (A Celery worker running them: every
job of the stack tests goes through this path.)"""

from __future__ import annotations

import base64
import json
import time

import pytest
import redis

from services.common.job_store import JobRecord, JobStore, new_job_id
from services.common.queue import enqueue, make_celery, pushes_in_transaction, pushing, task_message
from services.common.settings import CommonSettings
from services.core.contracts import DetectedObject

# what differs between two sends of the same task by design: fresh ids, the sender, a repr for logs
PER_SEND = {"id", "root_id", "correlation_id", "delivery_tag", "origin", "argsrepr", "reply_to"}


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


def _shape(message: dict) -> dict:
    """The message with its per-send values blanked and its body decoded."""
    def blank(d: dict) -> dict:
        return {k: ("*" if k in PER_SEND else blank(v) if isinstance(v, dict) else v) for k, v in d.items()}

    out = blank({k: v for k, v in message.items() if k != "body"})
    out["body"] = json.loads(base64.b64decode(message["body"]))
    return out


@pytest.mark.parametrize("inline", [None, {"upload": "aGVsbG8=", "clean": {"w": 3}}])
def test_the_message_is_the_one_celery_sends(redis_url, r, inline):
    app = make_celery(CommonSettings(redis_url=redis_url))
    assert pushes_in_transaction(app)
    enqueue(app, "classify", "job-1", "classify@v4", inline)
    [celery_sent] = r.lrange("classify@v4", 0, -1)
    name, ours = task_message("classify", "job-1", "classify@v4", inline)
    assert name == "classify@v4"
    assert _shape(json.loads(ours)) == _shape(json.loads(celery_sent))
    headers = json.loads(ours)["headers"]
    assert headers["id"] == headers["root_id"] == json.loads(ours)["properties"]["correlation_id"]
    assert "aGVsbG8" not in headers["argsrepr"]  # the payload is not copied into the logs' repr


def test_rediss_brokers_publish_through_kombu(redis_url):
    app = make_celery(CommonSettings(redis_url=redis_url.replace("redis://", "rediss://")))
    assert not pushes_in_transaction(app)


def test_the_message_goes_out_with_the_change_or_not_at_all(r):
    store = JobStore(r, ttl_s=3600)
    job = JobRecord(id=new_job_id(), sketch_key="sketches/x.png", deadline_at=time.time() + 60)
    name, message = task_message("detect", job.id)
    store.create(job, also=pushing((name, message)))
    assert r.lrange("detect", 0, -1) == [message.encode()]

    name, message = task_message("classify", job.id)
    obj = DetectedObject(box=[0, 0, 10, 10], score=0.9, detector_label="x")
    assert store.complete_stage(job.id, "detect", "classify", [obj], 5.0, also=pushing((name, message)))
    # a redelivered detect task: the job is past detect, nothing is written and nothing queued
    assert store.complete_stage(job.id, "detect", "classify", [obj], 5.0, also=lambda p: p.lpush(name, "again")) is None
    assert r.lrange("classify", 0, -1) == [message.encode()]
