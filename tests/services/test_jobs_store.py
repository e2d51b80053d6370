"""The job store, idempotency keys and the sweeper on a real redis-server: TTL, atomic updates, stage
idempotency, deadline sweep, stall requeue, the leader lock; queue config."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from services.common.idempotency import IdempotencyKeys, idempotency_key
from services.common.job_store import (
    JobRecord,
    JobStore,
    changed_channel,
    finished_job_json,
    job_key,
    new_job_id,
)
from services.common.queue import QUEUES, TASK_NAMES, make_celery, task_routes
from services.common.settings import CommonSettings
from services.common.sweeper import Sweeper
from services.core.contracts import DetectedObject, JobStatus, Stage


@pytest.fixture
def store(redis_url):
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    return JobStore(r, ttl_s=3600)


@pytest.fixture
def sweeper(store):
    return Sweeper(store)


def _job(deadline_in: float = 60.0) -> JobRecord:
    return JobRecord(id=new_job_id(), sketch_key="sketches/x.png", deadline_at=time.time() + deadline_in)


def _obj(i: int) -> DetectedObject:
    return DetectedObject(box=[i, i, i + 10, i + 10], score=0.9, detector_label="x")


def test_record_has_ttl_and_public_view(store):
    job = _job()
    store.create(job)
    ttl = store.r.ttl(job_key(job.id))
    assert 3500 < ttl <= 3600
    store.fail(job.id, "x")
    assert 3500 < store.r.ttl(job_key(job.id)) <= 3600  # updates keep the TTL
    public = store.get(job.id).public().model_dump()
    assert "sketch_key" not in public and "deadline_at" not in public
    assert public["status"] == "failed" and public["error"] == "x"


def test_stage_completion_applies_once(store):
    job = _job()
    store.create(job)
    assert store.complete_stage(job.id, "detect", "classify", [_obj(1), _obj(2)], 5.0, ["c/0", "c/1"])
    # a redelivered detect task: not applied again, nothing duplicated
    assert not store.complete_stage(job.id, "detect", "classify", [_obj(1), _obj(2), _obj(3)], 5.0)
    rec = store.get(job.id)
    assert rec.stage == Stage.classify and len(rec.objects) == 2 and rec.crop_keys == ["c/0", "c/1"]
    assert store.complete_stage(job.id, "classify", "recommend", rec.objects, 3.0)
    assert store.complete_stage(job.id, "recommend", None, rec.objects, 1.0)
    done = store.get(job.id)
    assert done.status == JobStatus.succeeded and done.stage == Stage.done
    assert store.fail(job.id, "late").status == JobStatus.succeeded  # finished jobs stay finished
    assert store.job_counts()["succeeded"] == 1


def test_the_finish_is_announced_with_the_job_whole(store):
    """Only the change that finishes a job is published (nobody waits on the others), and it carries the
    finished job, public fields only; a pick's re-run finishes, and is announced, again."""
    job = _job()
    store.create(job)
    sub = store.r.pubsub(ignore_subscribe_messages=True)
    sub.subscribe(changed_channel(job.id))
    assert sub.get_message(timeout=2) is None  # the subscription is confirmed (and not returned)
    store.start_stage(job.id, "detect")
    store.complete_stage(job.id, "detect", "classify", [_obj(1)], 5.0)
    store.complete_stage(job.id, "classify", "recommend", [_obj(1)], 3.0)
    store.complete_stage(job.id, "recommend", None, [_obj(1)], 1.0)
    first = _messages(sub)
    assert len(first) == 1
    assert json.loads(finished_job_json(first[0])) == json.loads(store.get(job.id).public().model_dump_json())
    store.pick_label(job.id, 0, "cat", 60)
    assert _messages(sub, 1.0) == []  # back to queued: not announced
    store.complete_stage(job.id, "recommend", None, [_obj(1)], 1.0)
    again = _messages(sub)
    sub.close()
    assert len(again) == 1 and json.loads(again[0])["status"] == "succeeded"


def _messages(sub, wait_s: float = 2.0) -> list[bytes]:
    out, until = [], time.time() + wait_s
    while time.time() < until:
        m = sub.get_message(timeout=0.2)
        if m is not None:
            out.append(m["data"])
    return out


def test_concurrent_updates_are_atomic(store):
    job = _job()
    store.create(job)

    def bump():
        for _ in range(25):
            store.update(job.id, lambda j: j.model_copy(update={"top_k": j.top_k + 1}))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(job.id).top_k == 5 + 100


def test_sweep_fails_overdue_jobs_only(store, sweeper):
    late, fine = _job(-1), _job(60)
    store.create(late)
    store.create(fine)
    assert sweeper.sweep() == [late.id]
    assert store.get(late.id).status == JobStatus.failed and "deadline" in store.get(late.id).error
    assert store.get(fine.id).status == JobStatus.queued
    assert sweeper.sweep() == []


def test_idempotency_claims(store):
    claims = IdempotencyKeys(store.r, ttl_s=3600)
    assert claims.claim("k", "p1", "job1") is None
    assert 3500 < store.r.ttl(idempotency_key("k")) <= 3600  # expires with the jobs
    assert claims.claim("k", "p2", "job2") == ("p1", "job1")
    claims.release("k", "job2")  # not the holder: kept
    assert claims.claim("k", "p1", "job3") == ("p1", "job1")
    claims.release("k", "job1")  # its job was never created: a retry may claim it
    assert claims.claim("k", "p1", "job4") is None


def test_deleting_a_job_forgets_its_idempotency_claim(store):
    claims = IdempotencyKeys(store.r, ttl_s=3600)
    job, other = _job(), _job()
    job.idempotency_hash = "h"
    assert claims.claim("h", "p", job.id) is None and claims.claim("o", "p", other.id) is None
    store.create(job)
    store.delete(job.id)
    assert store.get(job.id) is None and store.r.get(idempotency_key("h")) is None
    assert claims.claim("o", "p", "again") == ("p", other.id)  # other claims stay


def test_queue_configuration(redis_url):
    app = make_celery(CommonSettings(redis_url=redis_url))
    c = app.conf
    assert c.task_acks_late and c.task_reject_on_worker_lost and c.worker_prefetch_multiplier == 1
    assert {q.name for q in c.task_queues} == set(QUEUES)
    assert task_routes() == {TASK_NAMES[q]: {"queue": q, "routing_key": q} for q in QUEUES}
    assert c.broker_transport_options["visibility_timeout"] > 0


def test_stalled_jobs_are_requeued_a_bounded_number_of_times(store, sweeper):
    from services.common.job_store import QUIET

    quiet, stuck, done = _job(), _job(), _job()
    for j in (quiet, stuck, done):
        store.create(j)
    store.complete_stage(stuck.id, "detect", "classify", [_obj(1)], 5.0)
    store.fail(done.id, "cancelled")
    assert sweeper.requeue_stalled(older_than=30) == []  # nothing has been quiet for 30 s yet
    later = time.time() + 60
    assert sorted(sweeper.requeue_stalled(older_than=30, now=later)) == sorted(
        [(quiet.id, "detect"), (stuck.id, "classify")])  # each at its current stage; not the failed one
    assert store.get(stuck.id).requeues == 1 and store.get(stuck.id).objects == [_obj(1)]
    for _ in range(5):
        sweeper.requeue_stalled(older_than=30, max_requeues=3, now=later)
    assert store.get(stuck.id).requeues == 3  # then only the deadline ends it
    assert store.r.zscore(QUIET, stuck.id) is None and store.r.zscore(QUIET, done.id) is None


def test_one_sweeper_leads_until_its_lock_expires(store):
    from services.common.sweeper import LEADER

    leader = Sweeper(store, leader_ttl_s=0.5)
    other = Sweeper(JobStore(store.r, ttl_s=3600), leader_ttl_s=0.5)  # another gateway replica
    late = _job(-1)
    store.create(late)
    assert leader.lead() and not other.lead()
    assert other.sweep() == [] and other.requeue_stalled(older_than=0) == []  # not the leader: no-op
    assert store.get(late.id).status == JobStatus.queued
    assert leader.sweep() == [late.id]  # the leader sweeps and renews its lock
    assert store.r.get(LEADER).decode() == leader.owner
    time.sleep(0.7)  # the leader stopped renewing (died): another replica takes over
    assert other.lead() and not leader.lead()


def test_time_limits_and_lease_settings(redis_url):
    s = CommonSettings(redis_url=redis_url, queue_time_limit_s={"classify": 30},
                       queue_soft_time_limit_s={"classify": 45})
    c = make_celery(s).conf
    ann = c.task_annotations[0] if isinstance(c.task_annotations, (list, tuple)) else c.task_annotations
    assert ann[TASK_NAMES["classify"]] == {"time_limit": 30.0, "soft_time_limit": 30.0}  # soft <= hard
    assert ann[TASK_NAMES["detect"]] == {"time_limit": 120.0, "soft_time_limit": 100.0}  # the default
    opts = c.broker_transport_options
    assert opts["visibility_timeout"] > s.queue_lease_renew_s * 3
    assert opts["unacked_restore_interval"] <= opts["visibility_timeout"] / 2


def test_lease_renewal_moves_only_unacknowledged_messages(redis_url):
    from services.common.lease import UNACKED_INDEX, renew

    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    r.zadd(UNACKED_INDEX, {"held": 100.0, "other": 100.0})
    assert renew(r, {"held", "acked-meanwhile"}, now=5000.0) == 1
    assert r.zscore(UNACKED_INDEX, "held") == 5000.0 and r.zscore(UNACKED_INDEX, "other") == 100.0
    assert r.zscore(UNACKED_INDEX, "acked-meanwhile") is None  # never re-added


def test_a_quiet_job_whose_message_waits_is_not_sent_twice(store, sweeper, redis_url):
    from services.common.job_store import QUIET
    from services.common.queue import enqueue
    from services.common.sweeper import queued_messages

    app = make_celery(CommonSettings(redis_url=redis_url))
    waiting, held, lost = _job(), _job(), _job()
    for j in (waiting, held, lost):
        store.create(j)
    enqueue(app, "detect", waiting.id)  # a real message, waiting in its queue
    enqueue(app, "detect", held.id)
    raw = store.r.rpop("detect")  # a worker took it: now in kombu's unacknowledged hash
    store.r.hset("unacked", "tag-1", json.dumps([json.loads(raw), "", "detect"]))
    assert queued_messages(store.r) == {("detect", waiting.id), ("detect", held.id)}
    later = time.time() + 60
    assert sweeper.requeue_stalled(older_than=30, now=later) == [(lost.id, "detect")]  # only the lost one
    assert store.get(waiting.id).requeues == 0 and store.get(held.id).requeues == 0
    assert store.r.zscore(QUIET, waiting.id) == pytest.approx(later)  # looked at again 30 s later

    canary = _job()
    canary.stage = Stage.classify
    canary.routes = {"classifier": "v4"}
    store.create(canary)
    enqueue(app, "classify", canary.id, queue="classify@v4")  # a canary version's own queue
    assert sweeper.requeue_stalled(older_than=30, now=later + 60) == [(lost.id, "detect")]
    assert store.get(canary.id).requeues == 0


def test_a_requeued_message_goes_to_the_front_of_its_queue(redis_url):
    """A pool child died: its message is requeued where consumers take the next one from."""
    from services.common.queue import enqueue

    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    app = make_celery(CommonSettings(redis_url=redis_url))
    assert "FrontRequeueTransport" in type(app.connection_for_read().transport).__name__
    with app.connection_for_read() as conn:
        ch = conn.default_channel
        enqueue(app, "detect", "first")
        msg = ch.basic_get("detect", no_ack=False)  # a worker took "first"
        enqueue(app, "detect", "second")
        enqueue(app, "detect", "third")
        msg.reject(requeue=True)  # its pool child died
        order = []
        for _ in range(3):
            m = ch.basic_get("detect", no_ack=True)
            order.append(json.loads(m.body)[0][0])
    assert order == ["first", "second", "third"]
    assert r.hlen("unacked") == 0


def test_update_from_a_stale_read_applies_to_the_stored_record(store):
    """``seen`` is only a first guess: a record changed since it was read is read again, and the change
    applies to what is stored (nothing another writer did is lost)."""
    job = _job()
    store.create(job)
    seen = store.get(job.id)
    store.update(job.id, lambda j: j.model_copy(update={"top_k": 9}))  # another writer, meanwhile
    after = store.update(job.id, lambda j: j.model_copy(update={"references": 2}), seen=seen)
    assert (after.top_k, after.references) == (9, 2)
    stored = store.get(job.id)
    assert (stored.top_k, stored.references) == (9, 2)
    # a record deleted since it was read is not written back
    store.delete(job.id)
    assert store.update(job.id, lambda j: j.model_copy(update={"top_k": 1}), seen=stored) is None
    assert store.get(job.id) is None


def test_nothing_to_do_on_a_stale_read_is_decided_again_on_the_stored_record(store):
    """A change that finds nothing to do on the caller's old copy is tried on the stored record: the job
    has moved on since, to where the change does apply."""
    job = _job()
    store.create(job)
    at_detect = store.get(job.id)
    store.complete_stage(job.id, "detect", "classify", [_obj(1)], 5.0)  # meanwhile, elsewhere
    after = store.complete_stage(job.id, "classify", "recommend", [_obj(2)], 3.0, seen=at_detect)
    assert after is not None and after.stage == Stage.recommend
    assert store.get(job.id).objects[0].box == _obj(2).box


def test_update_runs_its_commands_with_the_change_only(store):
    job = _job()
    store.create(job)
    store.update(job.id, lambda j: j.model_copy(update={"top_k": 6}), also=lambda then: then.lpush("l", "m"))
    assert store.r.lrange("l", 0, -1) == [b"m"]
    store.update(job.id, lambda j: None, also=lambda then: then.lpush("l", "never"))  # no change: nothing
    assert store.r.lrange("l", 0, -1) == [b"m"]


def test_update_survives_a_flushed_script_cache(store):
    """A restarted Redis has forgotten the compare-and-set script: it is sent again, not an error."""
    job = _job()
    store.create(job)
    store.r.script_flush()
    assert store.start_stage(job.id, "detect").status == JobStatus.running
