"""Protocol v2 statistics on hand-computed cases: McNemar, Holm, macro weights, hierarchical bootstrap."""

import numpy as np
import pytest

from training.eval.stats import hierarchical_bootstrap, holm, item_weights, mcnemar


def test_mcnemar_exact_binomial():
    a = [1, 1, 1, 0, 0]
    b = [0, 0, 0, 0, 0]
    assert mcnemar(a, b) == (3, 0, 0.25)  # 2 · (1/2)^3
    a = [1] * 5 + [0] + [1, 0]
    b = [0] * 5 + [1] + [1, 0]
    bb, c, p = mcnemar(a, b)
    assert (bb, c) == (5, 1) and p == pytest.approx(2 * 7 / 64)  # 2 · P(X <= 1 | n = 6)
    assert mcnemar([1, 0], [1, 0]) == (0, 0, 1.0)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.2]) == pytest.approx([0.2])


def test_item_weights_macro_and_subset():
    y = np.array([0, 0, 1])
    hits = np.array([1, 0, 1])
    assert hits @ item_weights(y) == pytest.approx(0.75)  # (1/2 + 1) / 2
    assert hits @ item_weights(y, subset=[0]) == pytest.approx(0.5)
    assert item_weights(y).sum() == pytest.approx(1.0)


def test_bootstrap_degenerate_and_point_estimate():
    y = np.repeat(np.arange(4), 5)
    ones = np.ones((3, 20))
    r = hierarchical_bootstrap(ones, y, n_boot=200)
    assert (r["mean"], r["lo"], r["hi"]) == pytest.approx((1.0, 1.0, 1.0))
    hits = np.zeros((2, 20))
    hits[0, :10] = 1  # seed 0: 0.5, seed 1: 0.0
    r = hierarchical_bootstrap(hits, y, n_boot=500)
    assert r["mean"] == pytest.approx(0.25)
    assert 0.0 <= r["lo"] < 0.25 < r["hi"] <= 0.5


def test_seed_resampling_widens_the_interval():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(50), 4)
    base = rng.random(200) < 0.6
    same = np.stack([base] * 5).astype(float)  # every seed identical: only the items vary
    shifted = same.copy()
    for s in range(5):  # seeds differ a lot
        shifted[s, rng.choice(200, 40 * s, replace=False)] = s % 2
    a = hierarchical_bootstrap(same, y)
    b = hierarchical_bootstrap(shifted, y)
    assert (b["hi"] - b["lo"]) > (a["hi"] - a["lo"])


def test_paired_difference_p_value():
    y = np.repeat(np.arange(20), 5)
    better = np.ones((5, 100))
    worse = np.ones((5, 100))
    worse[:, ::4] = 0  # a loses 25 items on every seed
    r = hierarchical_bootstrap(better - worse, y, n_boot=1000)
    assert r["mean"] == pytest.approx(0.25) and r["lo"] > 0 and r["p"] == pytest.approx(1e-3)
    r0 = hierarchical_bootstrap(better - better, y, n_boot=1000)
    assert r0["mean"] == 0 and r0["p"] == 1.0
