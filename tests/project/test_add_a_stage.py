"""Adding a queue stage touches the stage table (``PIPELINE`` in services/common/queue.py) and the stage's
own module; every routing table follows from the table.

The test adds a stub stage ``caption`` (worker kind ``captioner``) between ``classify`` and ``recommend``
and derives, from that table alone, what the running code derives from ``PIPELINE``: the queues, the
task names, each stage's next stage, which worker kind consumes which queue
(:func:`services.common.queue.stage_tables`), the workers ``sketchref up`` starts
(:func:`cli.commands.up.workers_of`), what ``scripts/validate_deploy.py`` expects of the manifests
(``expected_queues``), and the Celery routes and time limits built from the module's tables.

What stays outside the table, on purpose: ``services.core.contracts.Stage`` (and ``Timings``) is the
public job-JSON contract (DESIGN.md §3: fields are added, never renamed), declared in the recognition
core, which may not import the queue infrastructure (tests/project/test_layers.py); so it stays a
written enum, and ``tests/common/test_pipeline_table.py`` holds it to ``PIPELINE`` (a new stage adds
its member there, or that test fails). The deployment files (compose, Dockerfile, k8s) are the new
stage's own, listed in docs/architecture.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli.commands import up
from services.common import queue
from services.common.queue import PIPELINE, stage_tables
from services.common.settings import CommonSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import validate_deploy  # noqa: E402

STUB = ("caption", "captioner")
# the stub entry, inserted after classify: the only change to the table
WITH_STUB = PIPELINE[:2] + (STUB,) + PIPELINE[2:]
ORDER = ("detect", "classify", "caption", "recommend")


def test_the_stub_goes_where_it_was_put():
    assert tuple(stage for stage, _ in WITH_STUB) == ORDER


def test_queues_task_names_and_next_stages_take_the_stub_in_order():
    t = stage_tables(WITH_STUB)
    assert t.queues == ORDER
    assert t.task_names == {q: f"sketchref.{q}" for q in ORDER}
    assert list(t.task_names) == list(ORDER)
    assert t.next_stage == {"detect": "classify", "classify": "caption", "caption": "recommend", "recommend": None}
    assert t.worker_queues == {"detector": "detect", "classifier": "classify", "captioner": "caption",
                               "recommender": "recommend"}
    assert list(t.worker_queues.values()) == list(ORDER)


def test_up_starts_the_stubs_worker_in_pipeline_order():
    assert up.workers_of(WITH_STUB) == ("detector", "classifier", "captioner", "recommender")
    assert up.WORKERS == up.workers_of(PIPELINE)  # the constant is the same function of the real table


def test_validate_deploy_expects_the_stubs_queue():
    expected = validate_deploy.expected_queues(WITH_STUB)
    assert expected["captioner"] == "caption"
    assert list(expected) == ["detector", "classifier", "captioner", "recommender"]
    assert validate_deploy.QUEUES == validate_deploy.expected_queues(PIPELINE)


def test_celery_routes_and_time_limits_follow_the_module_tables(monkeypatch):
    t = stage_tables(WITH_STUB)
    monkeypatch.setattr(queue, "QUEUES", t.queues)
    monkeypatch.setattr(queue, "TASK_NAMES", t.task_names)
    assert queue.task_routes()["sketchref.caption"] == {"queue": "caption", "routing_key": "caption"}
    assert list(queue.task_routes()) == [f"sketchref.{q}" for q in ORDER]
    # a stage without its own limits gets the defaults (no per-stage entry to add)
    limits = queue.time_limits(CommonSettings())
    assert limits["sketchref.caption"] == {"time_limit": queue.DEFAULT_TIME_LIMIT_S,
                                           "soft_time_limit": queue.DEFAULT_SOFT_TIME_LIMIT_S}


def test_the_module_constants_are_the_real_tables_derivation():
    t = stage_tables(PIPELINE)
    assert (queue.QUEUES, queue.TASK_NAMES, queue.NEXT_STAGE, queue.WORKER_QUEUES) == tuple(t)
