"""Training sets for adaptation: both file formats, leak checks, long-tailed subsamples, rendered inputs.

- **Formats.** The shared raw and simplified files mostly hold the same drawings (same ``key_id``)
  in two encodings, plus ~700 drawings only in simplified. Both are used for training: a drawing's
  split comes from its ``key_id`` alone, so a train key can never be a val/test key in either
  format — :func:`check_no_leak` asserts it on the actual lists.
- **Long tail.** :func:`longtail` keeps, per class, ``n_c = max(1, ⌊n_max · IR^(-i/(C-1))⌋)`` of its
  distinct drawings, classes ranked ``i = 0..C-1`` by how many they have (the CIFAR-LT profile:
  exponential decay from head to tail, ratio IR between first and last). ``n_max`` is the largest
  head size the data can realise at >= 90% of the ranks (here ~20-40 drawings, not CIFAR's 5000), so
  the tail floors at 1 and the effective ratio is ``n_max``; both ratios are reported.
- **Inputs.** Each drawing is rendered like a user's PNG and normalized (:mod:`.renders`): once the
  reference way and ``renders`` times at random; the arrays are cached on disk.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict

import numpy as np

from training.data.quickdraw import Drawing, load_drawings

from .renders import normalized_batch


def load_split(split: str, formats: tuple[str, ...], words=None, per_class=None, fetched=None
               ) -> dict[str, list[Drawing]]:
    """Each format's drawings of ``split``; ``fetched`` (a ``sketchref data fetch quickdraw`` folder,
    Google's simplified drawings) adds train drawings to the ``simplified`` format, or to the first
    format when ``simplified`` is not one of ``formats``."""
    into = "simplified" if "simplified" in formats else (formats[0] if formats else None)
    return {f: load_drawings(f, split=split, words=words, per_class=per_class,
                             fetched=fetched if f == into else None) for f in formats}


def check_no_leak(train: list[Drawing], *held_out: list[Drawing]) -> int:
    """Raise if any train key_id is a held-out key_id; returns the number of distinct train keys."""
    keys = {d.key_id for d in train}
    for other in held_out:
        shared = keys & {d.key_id for d in other}
        if shared:
            raise AssertionError(f"{len(shared)} drawings are in train and a held-out split, e.g. {sorted(shared)[:3]}")
    return len(keys)


def _h(key: str) -> str:
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def longtail(by_format: dict[str, list[Drawing]], ir: float, classes: list[str],
             seed: int | None = None) -> tuple[set, dict]:
    """The key_ids of a long-tailed subsample (the same drawings in every format) and its stats.

    Which drawings of a class are kept is a hash order of their key_ids: fixed when ``seed`` is None,
    re-drawn per ``seed`` otherwise (the class sizes, set by the profile, are the same for every seed).
    """
    keys = defaultdict(set)
    for lst in by_format.values():
        for d in lst:
            keys[d.word].add(d.key_id)
    ranked = sorted((w for w in classes if keys[w]), key=lambda w: (-len(keys[w]), w))
    avail = [len(keys[w]) for w in ranked]

    def profile(n_max: int) -> list[int]:
        return [max(1, math.floor(n_max * ir ** (-i / max(len(ranked) - 1, 1)))) for i in range(len(ranked))]

    def feasible(n_max: int) -> bool:
        return sum(p <= a for p, a in zip(profile(n_max), avail, strict=True)) >= 0.9 * len(ranked)

    n_max = max((n for n in range(1, avail[0] + 1) if feasible(n)), default=1)
    keep: set = set()
    sizes = {}
    for w, n in zip(ranked, profile(n_max), strict=True):
        chosen = sorted(keys[w], key=_h if seed is None else (lambda k: _h(f"{seed}:{k}")))[:n]
        sizes[w] = len(chosen)
        keep.update(chosen)
    vals = list(sizes.values())
    stats = {"ir_nominal": ir, "seed": seed, "ir_effective": max(vals) / max(min(vals), 1), "drawings": len(keep),
             "head": max(vals), "tail": min(vals)}
    return keep, stats


def inputs(by_format: dict[str, list[Drawing]], renders: int, seed: int, index: dict[str, int],
           norm=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, key_ids)``: every drawing rendered the reference way plus ``renders`` random ways."""
    xs, ys, ks = [], [], []
    kw = {"norm": norm} if norm is not None else {}
    for fmt, lst in by_format.items():
        if not lst:
            continue
        tag = "" if fmt == "raw" else fmt
        xs.append(normalized_batch(lst, "reference", tag=tag, **kw))
        xs += [normalized_batch(lst, "random", seed=seed * 100 + r, tag=tag, **kw) for r in range(renders)]
        ys += [index[d.word] for d in lst] * (1 + renders)
        ks += [d.key_id for d in lst] * (1 + renders)
    return np.concatenate(xs), np.asarray(ys, dtype=np.int64), np.asarray(ks)


def class_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    c = Counter(y.tolist())
    return np.asarray([c.get(i, 0) for i in range(num_classes)], dtype=np.float32)
