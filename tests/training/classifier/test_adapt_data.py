"""Long-tailed subsampling and the train/held-out leak check."""

import hashlib

import pytest

from training.classifier.adapt_data import check_no_leak, longtail
from training.data.quickdraw import Drawing, load_drawings


def _drawings(word, n, start=0):
    return [Drawing(word=word, key_id=f"{word}-{i}", strokes=[]) for i in range(start, start + n)]


def test_longtail_profile_like_cifar_lt():
    classes = [f"c{i}" for i in range(5)]
    raw = [d for c in classes for d in _drawings(c, 100)]
    simplified = [d for c in classes for d in _drawings(c, 100)]  # same keys, other format
    keep, stats = longtail({"raw": raw, "simplified": simplified}, ir=100, classes=classes)
    sizes = sorted((sum(k.startswith(c + "-") for k in keep) for c in classes), reverse=True)
    # n_c = floor(100 * 100^(-i/4)): 100, 31, 10, 3, 1
    assert sizes == [100, 31, 10, 3, 1]
    assert stats["ir_effective"] == 100 and stats["drawings"] == 145


def test_longtail_ranks_classes_by_available_drawings():
    d = {"raw": _drawings("a", 3) + _drawings("b", 10)}
    keep, stats = longtail(d, ir=10, classes=["a", "b"])
    assert sum(k.startswith("b-") for k in keep) == 10 and sum(k.startswith("a-") for k in keep) == 1


def test_leak_check():
    tr = _drawings("a", 3)
    assert check_no_leak(tr, _drawings("a", 3, start=3)) == 3
    with pytest.raises(AssertionError):
        check_no_leak(tr, _drawings("a", 1, start=2))


# The project's split rule written out here, not imported, so the check does not use the code it checks:
# the first byte of sha1(key_id), mod 10: 0-6 train, 7 val, 8-9 test.
def _split_by_hand(key_id: str) -> str:
    b = hashlib.sha1(key_id.encode()).digest()[0] % 10
    return "train" if b < 7 else "val" if b == 7 else "test"


# Drawings of the shared files whose side is known (cat, dog, cat); a changed rule moves them.
KNOWN = {"5201136883597312": "train", "5319657680535552": "val", "6411036099870720": "test"}


def test_formats_share_the_split_of_a_key():
    assert {k: _split_by_hand(k) for k in KNOWN} == KNOWN
    words = ["cat", "dog"]
    every = {f: load_drawings(f, words=words) for f in ("raw", "simplified")}
    seen = {d.key_id: d.split for lst in every.values() for d in lst}
    assert {k: seen.get(k) for k in KNOWN} == KNOWN
    sides: dict[str, set[str]] = {}
    for lst in every.values():
        for d in lst:
            assert d.split == _split_by_hand(d.key_id), d.key_id
            sides.setdefault(d.key_id, set()).add(d.split)
    assert all(len(s) == 1 for s in sides.values()), "a drawing sits on one side in both formats"
    by_split = {sp: {d.key_id for f in every for d in load_drawings(f, split=sp, words=words)}
                for sp in ("train", "val", "test")}
    assert all(by_split.values()), by_split
    assert not by_split["train"] & (by_split["val"] | by_split["test"]) and not by_split["val"] & by_split["test"]
    assert all(_split_by_hand(k) == sp for sp, keys in by_split.items() for k in keys)
    assert set().union(*by_split.values()) == set(sides)
    train = [d for lst in every.values() for d in lst if d.split == "train"]
    held = [d for lst in every.values() for d in lst if d.split != "train"]
    assert check_no_leak(train, held) == len(by_split["train"])
