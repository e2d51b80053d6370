"""The threads pool's hard time limit: a task past its stage's limit fails its job and ends the worker."""

from __future__ import annotations

from services.common.watchdog import EXIT_STUCK, Watchdog


def _dog(limits=None):
    failed, exits = [], []
    dog = Watchdog(limits or {"detect": 10.0, "classify": 5.0}, lambda *a: failed.append(a), exits.append)
    return dog, failed, exits


def test_nothing_happens_within_the_limits():
    dog, failed, exits = _dog()
    token = dog.started("job-a", "detect")
    dog.started("job-b", "classify")
    t0 = dog._running[token][2]
    assert dog.expired(t0 + 4.9) == [] and not dog.check(t0 + 4.9)
    assert failed == [] and exits == []


def test_an_expired_task_fails_its_job_then_the_process_exits():
    dog, failed, exits = _dog()
    dog.started("job-a", "detect")
    token = dog.started("job-b", "classify")
    t0 = dog._running[token][2]
    assert dog.expired(t0 + 6) == [("job-b", "classify", 5.0)]
    assert dog.check(t0 + 6)
    assert failed == [("job-b", "classify", 5.0)] and exits == [EXIT_STUCK]


def test_a_finished_task_is_forgotten_and_unknown_stages_have_no_limit():
    dog, failed, exits = _dog()
    token = dog.started("job-a", "detect")
    t0 = dog._running[token][2]
    dog.finished(token)
    dog.finished(token)  # twice is harmless
    dog.started("job-c", "recommend")  # no limit configured for it here
    assert not dog.check(t0 + 1000)
    assert failed == [] and exits == []


def test_a_failing_recorder_still_ends_the_process():
    exits = []

    def broken(*_a):
        raise ConnectionError("redis down")

    dog = Watchdog({"detect": 1.0}, broken, exits.append)
    token = dog.started("job-a", "detect")
    assert dog.check(dog._running[token][2] + 2)
    assert exits == [EXIT_STUCK]
