import json

from training.data.quickdraw import load_drawings, read_ndjson, split_of


def test_split_is_fixed_and_proportional():
    assert split_of("5201136883597312") == split_of(5201136883597312)
    counts = {"train": 0, "val": 0, "test": 0}
    for i in range(5000):
        counts[split_of(i)] += 1
    assert 0.66 < counts["train"] / 5000 < 0.74 and 0.17 < counts["test"] / 5000 < 0.23


def test_reads_raw_and_simplified_formats(tmp_path):
    p = tmp_path / "cat.ndjson"
    rows = [{"word": "cat", "key_id": "1", "recognized": True, "countrycode": "US",
             "drawing": [[[0, 5], [0, 5], [0, 16]]]},
            {"word": "cat", "key_id": "2", "recognized": False, "drawing": [[[0, 5], [1, 6]]]}]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds = list(read_ndjson(p))
    assert [d.key_id for d in ds] == ["1", "2"] and ds[1].recognized is False
    assert len(ds[0].strokes[0]) == 3


def test_raw_and_simplified_agree_on_split():
    raw = {d.key_id: d.split for d in load_drawings("raw", words=["cat", "dog"])}
    simp = {d.key_id: d.split for d in load_drawings("simplified", words=["cat", "dog"])}
    shared = raw.keys() & simp.keys()
    assert shared and all(raw[k] == simp[k] for k in shared)
