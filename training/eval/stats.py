"""Confidence intervals for the evaluation reports."""

from __future__ import annotations

import math

import numpy as np


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def bootstrap_mean(values, seed: int = 0, n_boot: int = 2000) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values``."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(1)
    return (float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))


def t_interval(values) -> tuple[float, float]:
    """mean ± 95% Student-t half-width over seeds (few samples)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return (float(v.mean()), 0.0)
    return (float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))))


# --- paired, hierarchical statistics for seeded ablations (protocol v2) ---------------------------


def mcnemar(a_hits, b_hits) -> tuple[int, int, float]:
    """Exact two-sided McNemar test of two classifiers on the same items.

    Returns ``(b, c, p)``: ``b`` items only ``a`` gets right, ``c`` items only ``b`` gets right, and
    ``p = min(1, 2 · P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)`` (1 when there is no
    discordant item).
    """
    from scipy import stats

    a = np.asarray(a_hits, dtype=bool)
    b_ = np.asarray(b_hits, dtype=bool)
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    return b, c, float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))


def holm(pvalues) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given): ``max_{k<=i} min(1, (m-k+1) p_(k))``."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


def item_weights(y, subset=None) -> np.ndarray:
    """Per-item weights that make ``hits @ w`` the macro accuracy (mean over classes of per-class accuracy)
    over the classes in ``subset`` (all present classes if None): ``w_i = 1 / (C' · n_{y_i})`` for items
    of those classes, 0 otherwise. (Plain accuracy is ``np.full(n, 1/n)``.)"""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    keep = set(classes.tolist()) if subset is None else set(int(c) for c in subset) & set(classes.tolist())
    n_of = dict(zip(classes.tolist(), counts.tolist(), strict=True))
    w = np.array([1.0 / n_of[int(c)] if int(c) in keep else 0.0 for c in y])
    return w / max(len(keep), 1)


def _stratified_indices(y, n_boot: int, rng) -> np.ndarray:
    """``(n_boot, N)`` item indices, resampled with replacement within each class (sizes kept)."""
    y = np.asarray(y)
    idx = np.empty((n_boot, len(y)), dtype=np.int64)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        idx[:, members] = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
    return idx


def hierarchical_bootstrap(hits, y, weights=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """Estimate and 95% interval of a seed-averaged metric, resampling seeds and test items.

    ``hits``: ``(S, N)`` per-seed, per-item scores on one test set — 0/1 correctness for one arm, or
    the paired difference ``hits_a - hits_b`` (same seeds, same items) for a comparison. ``weights``
    (``(N,)``, default ``1/N``) makes the metric (see :func:`item_weights`). Each replicate draws S
    seeds with replacement and the items with replacement within each class (the same items for every
    seed of the replicate: they are one test set), so both the seed-to-seed and the test-sampling
    variance are in the interval. Returns ``{"mean", "lo", "hi", "p"}`` with ``p`` the two-sided
    bootstrap p-value of "the metric is 0" (``2 · min(P*(≤ 0), P*(≥ 0))``; meaningful for differences).
    """
    h = np.atleast_2d(np.asarray(hits, dtype=np.float64))
    n_seeds, n = h.shape
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = float((h @ w).mean())
    rng = np.random.default_rng(seed)
    items = _stratified_indices(y, n_boot, rng)
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    boot = np.empty(n_boot)
    for start in range(0, n_boot, 250):
        sl = slice(start, start + 250)
        ii = items[sl]  # (b, N)
        per = (h[:, ii] * w[ii][None]).sum(-1)  # (S, b): each seed's metric on each replicate's items
        boot[sl] = per[seeds[sl].T, np.arange(ii.shape[0])].mean(0)
    p = 2 * min((boot <= 0).mean(), (boot >= 0).mean())
    return {"mean": mean, "lo": float(np.percentile(boot, 2.5)), "hi": float(np.percentile(boot, 97.5)),
            "p": float(min(1.0, max(p, 1.0 / n_boot)))}
