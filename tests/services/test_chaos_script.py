"""scripts/chaos.py's pieces that need no running stack: which job a worker holds, and the table.

The script itself runs against ``sketchref up`` (``make chaos``); the behaviours it measures are
asserted by test_up_supervision.py, test_lease.py and test_jobs_store.py.
"""

from __future__ import annotations

import json
import sys

import redis

from services.common.queue import enqueue, make_celery
from services.common.settings import ROOT, CommonSettings

sys.path.insert(0, str(ROOT / "scripts"))
import chaos  # noqa: E402


def test_held_names_the_jobs_a_worker_holds(redis_url):
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    app = make_celery(CommonSettings(redis_url=redis_url))
    enqueue(app, "classify", "job-a")
    enqueue(app, "detect", "job-b")
    assert chaos.held(r, "classify") == set()  # queued, not held
    raw = r.rpop("classify")
    r.hset("unacked", "tag", json.dumps([json.loads(raw), "", "classify"]))
    assert chaos.held(r, "classify") == {"job-a"} and chaos.held(r, "detect") == set()


def test_table_has_one_line_per_row():
    rows = [{"scenario": "kill -9 Redis", "lost": 0}, {"scenario": "S3 frozen (SIGSTOP)", "post_status": 503}]
    lines = chaos.table(rows).splitlines()
    assert len(lines) == 3 and "lost=0" in lines[1] and "post_status=503" in lines[2]
