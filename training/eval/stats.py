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
