"""Long-tailed subsampling and the train/held-out leak check."""

import pytest

from training.classifier.adapt_data import check_no_leak, longtail
from training.data.quickdraw import Drawing, load_drawings, split_of


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


def test_formats_share_the_split_of_a_key():
    raw = load_drawings("raw", words=["cat", "dog"])
    simp = load_drawings("simplified", words=["cat", "dog"])
    train = [d for d in raw + simp if d.split == "train"]
    held = [d for d in raw + simp if d.split != "train"]
    assert check_no_leak(train, held) > 0
    assert all(split_of(d.key_id) == d.split for d in simp)
