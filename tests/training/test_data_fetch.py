"""``sketchref data fetch quickdraw`` against a local HTTP mirror serving a few shared files."""

import http.server
import json
import threading
from functools import partial

import pytest

from services.cli import main
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
