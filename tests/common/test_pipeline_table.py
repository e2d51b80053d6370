"""One table of stages (services/common/queue.py PIPELINE): the contract, the queues, the workers and
the local stack all follow it."""

from __future__ import annotations

from cli.commands.up import WORKERS
from services.common.queue import NEXT_STAGE, PIPELINE, QUEUES, TASK_NAMES, WORKER_QUEUES
from services.core.contracts import Stage


def test_the_contracts_stages_are_the_pipelines_in_order_then_done():
    assert [s.value for s in Stage] == [stage for stage, _ in PIPELINE] + ["done"]


def test_queues_tasks_and_next_stages_follow_the_table():
    assert QUEUES == ("detect", "classify", "recommend")
    assert TASK_NAMES == {"detect": "sketchref.detect", "classify": "sketchref.classify",
                          "recommend": "sketchref.recommend"}
    assert NEXT_STAGE == {"detect": "classify", "classify": "recommend", "recommend": None}
    # walking next from the first stage visits every stage once
    seen, stage = [], QUEUES[0]
    while stage is not None:
        seen.append(stage)
        stage = NEXT_STAGE[stage]
    assert tuple(seen) == QUEUES


def test_every_stage_has_one_worker_kind_and_up_starts_each():
    assert WORKER_QUEUES == {"detector": "detect", "classifier": "classify", "recommender": "recommend"}
    assert WORKERS == tuple(WORKER_QUEUES)
    assert sorted(WORKER_QUEUES.values()) == sorted(QUEUES)
