"""``sketchref data fetch quickdraw`` against a local HTTP mirror serving a few shared files."""

import http.server
import json
import threading
from functools import partial

import pytest

from cli.main import main
from services.common.settings import get_settings
from training.data.quickdraw import read_ndjson, split_of

WORDS = ["cat", "house"]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    folder = root / "storage.googleapis.com" / "quickdraw_dataset" / "full" / "simplified"
    folder.mkdir(parents=True)
    shared = get_settings().shared_dir / "data" / "quickdraw" / "simplified"
    for w in WORDS:
        (folder / f"{w}.ndjson").write_bytes((shared / f"{w}.ndjson").read_bytes())
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SKETCHREF_ASSET_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    get_settings.cache_clear()
    yield requests, shared
    server.shutdown()
    server.server_close()
    get_settings.cache_clear()


def test_fetch_keeps_train_split_only_and_resumes(mirror, tmp_path, capsys):
    requests, shared = mirror
    out = tmp_path / "fetched"
    assert main(["data", "fetch", "quickdraw", "--per-class", "3", "--words", ",".join(WORDS), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for w in WORDS:
        got = list(read_ndjson(out / f"{w}.ndjson"))
        available = [d for d in read_ndjson(shared / f"{w}.ndjson") if d.split == "train"]
        assert [d.key_id for d in got] == [d.key_id for d in available[:3]]
        assert all(split_of(d.key_id) == "train" for d in got)
        assert manifest[w]["drawings"] == len(got) and len(manifest[w]["sha256"]) == 64
    assert len(requests) == 2
    assert main(["data", "fetch", "quickdraw", "--per-class", "3", "--words", ",".join(WORDS), "--out", str(out)]) == 0
    assert len(requests) == 2  # both complete: nothing fetched again
    (out / "cat.ndjson").write_text("corrupted\n")
    assert main(["data", "fetch", "quickdraw", "--per-class", "3", "--words", ",".join(WORDS), "--out", str(out)]) == 0
    assert len(requests) == 3 and json.loads((out / "manifest.json").read_text())["cat"]["drawings"] == 3
    assert main(["data", "fetch", "quickdraw", "--per-class", "3", "--words", "not-a-word", "--out", str(out)]) == 2
    capsys.readouterr()


def _key_in(split: str, start: int) -> str:
    k = start
    while split_of(str(k)) != split:
        k += 1
    return str(k)


@pytest.fixture
def fetched(tmp_path):
    """A fetched folder: two new train drawings of cat, one val drawing (never read) and one drawing
    already in the shared files (read once)."""
    shared = next(read_ndjson(get_settings().shared_dir / "data" / "quickdraw" / "simplified" / "cat.ndjson"))
    new = [_key_in("train", 9_000_000_000_000_000), _key_in("train", 9_100_000_000_000_000)]
    held_out = _key_in("val", 9_200_000_000_000_000)
    lines = [{"word": "cat", "key_id": k, "drawing": [[[0, 10, 20], [0, 10, 0]]], "recognized": True}
             for k in [*new, held_out, shared.key_id]]
    folder = tmp_path / "fetched"
    folder.mkdir()
    (folder / "cat.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return folder, new, held_out


def test_trainers_read_fetched_train_drawings_only(fetched, monkeypatch, tmp_path):
    from training.classifier.adapt_data import load_split
    from training.data.quickdraw import load_drawings

    folder, new, held_out = fetched
    base = load_drawings("simplified", split="train", words=["cat"])
    more = load_drawings("simplified", split="train", words=["cat"], fetched=folder)
    assert [d.key_id for d in more] == [d.key_id for d in base] + new  # no duplicate, no held-out drawing
    assert held_out not in {d.key_id for d in load_drawings("simplified", words=["cat"], fetched=folder)}
    assert load_drawings("simplified", split="val", words=["cat"], fetched=folder) == \
        load_drawings("simplified", split="val", words=["cat"])
    assert len(load_drawings("simplified", split="train", words=["cat"], per_class=len(base) + 1,
                             fetched=folder)) == len(base) + 1
    split = load_split("train", ("raw", "simplified"), ["cat"], fetched=folder)
    assert {d.key_id for d in split["simplified"]} >= set(new) and not {d.key_id for d in split["raw"]} & set(new)

    # the detector's trainer hands its --fetched-data to the loader
    import training.detector.train as det_train
    from training.detector.config import DetectorTrainConfig

    seen = []
    real = det_train.load_drawings
    monkeypatch.setattr(det_train, "load_drawings", lambda *a, **k: seen.append(k.get("fetched")) or real(*a, **k))
    det_train.build_dataset(DetectorTrainConfig(tiny=True, fetched_data=str(folder)).resolved(), tmp_path / "data")
    assert seen and set(seen) == {str(folder)}
