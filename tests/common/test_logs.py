"""JSON log lines carry the stage fields and never a secret."""

from __future__ import annotations

import json
import logging

from services.common.logs import JsonFormatter, Redactor, TextFormatter, secret_values


def _record(msg, *args, **extra):
    rec = logging.LogRecord("sketchref.worker", logging.INFO, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_stage_line_is_one_json_object_with_its_fields():
    line = JsonFormatter(Redactor([]))
    doc = json.loads(line.format(_record("%s %s", "detect", "done", job_id="ab12", stage="detect",
                                         model_version="v3", outcome="done", duration_ms=12.5)))
    assert doc["msg"] == "detect done" and doc["level"] == "INFO" and doc["logger"] == "sketchref.worker"
    assert (doc["job_id"], doc["stage"], doc["model_version"], doc["duration_ms"]) == ("ab12", "detect", "v3", 12.5)
    assert doc["ts"].endswith("Z")


def test_secrets_from_the_environment_and_url_passwords_are_masked():
    env = {"SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY": "unsplash-abcdef123", "SKETCHREF_S3_SECRET_KEY": "s3-secret-987",
           "SKETCHREF_REDIS_URL": "redis://:pw@host:6379/0", "HOME": "/home/someone-long"}
    vals = secret_values(env)
    assert "unsplash-abcdef123" in vals and "s3-secret-987" in vals and "/home/someone-long" not in vals
    red = Redactor(vals)
    rec = _record("calling with %s and redis://user:hunter2@redis:6379/0", "unsplash-abcdef123",
                  job_id="x", stage="detect")
    for fmt in (JsonFormatter(red), TextFormatter(red)):
        out = fmt.format(rec)
        assert "unsplash-abcdef123" not in out and "hunter2" not in out
        assert "***" in out and "redis://user:***@redis" in out
    try:
        raise RuntimeError("boom s3-secret-987")
    except RuntimeError:
        import sys

        rec = _record("failed")
        rec.exc_info = sys.exc_info()
    assert "s3-secret-987" not in JsonFormatter(red).format(rec)


def test_celery_per_task_lines_are_off_below_debug_but_retries_stay():
    """A stage's own line says what Celery's "received" and "succeeded" lines said; those are not written
    at INFO (each one woke the log collector on the job's path), a retry still is, and DEBUG has them."""
    from celery.app.trace import LOG_RECEIVED, LOG_RETRY, LOG_SUCCESS

    from services.common.logs import quiet_task_lines

    strategy, trace = logging.getLogger("celery.worker.strategy"), logging.getLogger("celery.app.trace")
    saved = strategy.level, list(trace.filters)
    try:
        quiet_task_lines("info")
        assert not strategy.isEnabledFor(logging.INFO)  # Celery checks this before it logs "received"
        assert strategy.isEnabledFor(logging.WARNING)
        passes = [trace.filter(logging.LogRecord(trace.name, logging.INFO, __file__, 1, msg, None, None))
                  for msg in (LOG_SUCCESS, LOG_RETRY, LOG_RECEIVED)]
        assert passes == [False, True, True]
        quiet_task_lines("info")  # idempotent: one filter
        assert len(trace.filters) == len(saved[1]) + 1
    finally:
        strategy.setLevel(saved[0])
        trace.filters[:] = saved[1]
    quiet_task_lines("debug")
    assert strategy.level == saved[0] and trace.filters == saved[1]
