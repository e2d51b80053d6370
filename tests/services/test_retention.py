"""Retention on the real SeaweedFS and Redis: expired and orphaned sketches/crops go, the rest stays."""

from __future__ import annotations

import time

import redis

from services.common.job_store import JobRecord, JobStore, new_job_id
from services.common.retention import ROUND, job_id_of, run_round, sweep
from services.common.settings import CommonSettings
from services.common.storage import S3Storage
from tests.services.stack import s3_storage


def _own_bucket(endpoint: str, name: str) -> S3Storage:
    """A bucket of its own: a sweep with a shifted clock must not touch other tests' objects."""
    s3 = S3Storage(s3_storage(endpoint).client, name)
    s3.ensure_bucket()
    return s3


def test_job_id_of_keys():
    assert job_id_of("sketches/abc.png") == "abc" and job_id_of("crops/abc/3.png") == "abc"
    assert job_id_of("models/detector/v1/best.pt") is None and job_id_of("crops/x") is None


def test_sweep_deletes_expired_and_orphaned_objects_only(redis_url, s3_endpoint):
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    store, s3 = JobStore(r, ttl_s=3600), _own_bucket(s3_endpoint, "retention-a")
    live, orphan = new_job_id(), new_job_id()
    store.create(JobRecord(id=live, sketch_key=f"sketches/{live}.png", deadline_at=time.time() + 60))
    keys = [f"sketches/{live}.png", f"crops/{live}/0.png", f"sketches/{orphan}.png", f"crops/{orphan}/0.png",
            f"models/x/{orphan}.bin", f"cache/recommender/{orphan}.json"]
    for k in keys:
        s3.put(k, b"x")
    # shortly after: nothing is old enough
    assert sweep(s3, r, ttl_s=1000, orphan_grace_s=100) == []
    # past the orphan grace: the objects without a job go (Redis lost them), the live job's stay
    later = time.time() + 150
    assert sorted(sweep(s3, r, ttl_s=1000, orphan_grace_s=100, now=later)) == sorted(keys[2:4])
    assert all(s3.exists(k) for k in keys[:2] + keys[4:])
    # past the retention: the job's own objects go too (they expire with it); other prefixes never
    assert sorted(sweep(s3, r, ttl_s=1000, orphan_grace_s=100, now=time.time() + 1100)) == sorted(keys[:2])
    assert s3.exists(keys[4]) and s3.exists(keys[5])


def test_one_round_per_interval_across_workers(redis_url, s3_endpoint):
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    s3 = _own_bucket(s3_endpoint, "retention-b")
    rs = CommonSettings(job_ttl_s=1000, retention_orphan_grace_s=100, retention_interval_s=60)
    assert run_round(s3, r, rs) is not None  # the first worker sweeps
    assert run_round(s3, r, rs) is None  # another worker within the interval does not
    assert 0 < r.ttl(ROUND) <= 54
