"""Protocol v2's grid and rank budgets (no training): arms, names, controls, capped ranks."""

import pytest

from services.classifier.doodlenet import DoodleNet
from services.classifier.lora import placement_pattern
from training.classifier import protocol_v2 as P
from training.classifier.budget import max_useful_rank, plan_ranks


def test_here_grid_has_every_control_for_five_seeds():
    arms = P.grid("here")
    assert len({a.name for a in arms}) == len(arms)
    cells = {a.cell for a in arms}
    assert len(arms) == 5 * len(cells)
    assert {a.seed for a in arms} == set(P.SEEDS)
    assert {a.mode for a in arms} == {"head", "lora", "lora+head"}
    assert {a.loss for a in arms} >= set(P.LOSSES)
    assert any(a.distill == 0 for a in arms) and any(a.budget == "head" for a in arms)
    assert all(a.setting == "longtail" for a in arms)
    # seed-major within a group: the first 5 arms are the loss group's seed 0
    assert [a.seed for a in arms[:5]] == [0] * 5 and {a.loss for a in arms[:5]} == set(P.LOSSES)


def test_full_grid_is_a_superset_with_both_settings_and_a_rank_sweep():
    full = P.grid("full")
    assert {a.setting for a in full} == {"natural", "longtail"}
    assert {a.placement for a in full} == set(P.ALL_PLACEMENTS["doodlenet"])
    assert {a.budget for a in full} >= {"x0.25", "x4", "x16"}


def test_ranks_are_capped_at_the_layers_maximum_useful_rank():
    tower = DoodleNet()
    assert max_useful_rank(tower.convs[0]) == 9  # 1 input channel × 3×3
    assert max_useful_rank(tower.dense) == 512
    plan = plan_ranks(tower, placement_pattern("doodlenet", "conv-early"), 8704)
    assert plan.caps == {"convs.0": 9} and plan.rank > 9
    assert abs(plan.params - 8704) <= 200  # the capped count meets the budget, not the uncapped one
    dense = plan_ranks(tower, placement_pattern("doodlenet", "dense"), 8704)
    assert (dense.rank, dense.caps, dense.params) == (8, {}, 8704)
    with pytest.raises(ValueError):
        plan_ranks(tower, r"nothing", 100)


def test_a_saved_config_without_a_later_setting_is_the_same_run():
    """An arm finished before a setting existed trained with that setting's default: a rerun must not
    redo it (a new ``fetched_data`` field once made every finished arm look unfinished)."""
    from dataclasses import asdict

    from training.classifier.adapt import AdaptConfig, same_config

    now = asdict(AdaptConfig(seed=3, loss="qmw"))
    saved = {k: v for k, v in now.items() if k != "fetched_data"}
    assert same_config(saved, now)
    assert not same_config(saved, {**now, "fetched_data": "data/fetched"})
    assert not same_config({**saved, "seed": 4}, now)


def test_two_runners_share_a_grid_through_claims(tmp_path):
    import os

    from training.classifier.protocol_v2 import claim, release

    arm = tmp_path / "longtail-attn-lorahead-ce-s1"
    assert claim(arm) and claim(arm)  # this process, again: still its own
    release(arm)
    (arm / "claim.pid").write_text(str(os.getppid()))  # a live runner holds it
    assert not claim(arm)
    for stale in ("4194305", "0", "not a pid"):  # a runner that is gone, or a broken claim
        (arm / "claim.pid").write_text(stale)
        assert claim(arm) and (arm / "claim.pid").read_text() == str(os.getpid())
    release(arm)
    assert not (arm / "claim.pid").exists()
