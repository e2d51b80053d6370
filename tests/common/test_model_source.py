"""resolve_model_dir / publish_model_dir against a real SeaweedFS S3 server (``weed mini``)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

from services.common.model_source import (  # noqa: E402
    parse_s3_uri,
    publish_model_dir,
    resolve_model_dir,
)

WEED = shutil.which("weed") or str(Path(sys.executable).parent / "weed")


def _free_port() -> int:
    """A free port whose +10000 neighbour (weed's gRPC port) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as t:
                t.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3")}
    data = tmp_path_factory.mktemp("weed")
    log = open(data / "weed.log", "wb")
    proc = subprocess.Popen(
        [WEED, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
         "-admin.ui=false", "-webdav=false", *[f"-{k}.port={v}" for k, v in ports.items()]],
        stdout=log, stderr=subprocess.STDOUT)
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{ports['s3']}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    deadline = time.monotonic() + 60
    while True:
        try:
            client.list_buckets()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("weed mini did not start: " + (data / "weed.log").read_text()[-2000:])
            time.sleep(0.3)
    client.create_bucket(Bucket="models-bucket")
    yield client
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _model_folder(root: Path, marker: str) -> Path:
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "best.pt").write_bytes(b"\x00weights " + marker.encode())
    (root / "card.json").write_text(json.dumps({"version": marker}, separators=(", ", ": ")))
    return root


def test_unset_uri_returns_default_dir(tmp_path, monkeypatch):
    assert resolve_model_dir("detector", tmp_path / "baked", None) == tmp_path / "baked"
    assert resolve_model_dir("classifier", tmp_path / "b", " ") == tmp_path / "b"


def test_publish_then_resolve_downloads_the_version_once(s3, tmp_path):
    src = _model_folder(tmp_path / "trained", "v3")
    keys = publish_model_dir(src, "s3://models-bucket/models/detector/v3/", client=s3)
    assert sorted(keys) == ["models/detector/v3/card.json", "models/detector/v3/manifest.json",
                            "models/detector/v3/weights/best.pt"]

    uri, cache = "s3://models-bucket/models/detector/v3", tmp_path / "cache"
    got = resolve_model_dir("detector", tmp_path / "baked", uri, client=s3, cache_dir=cache)
    assert got.parent == tmp_path / "cache"
    assert (got / "weights" / "best.pt").read_bytes() == b"\x00weights v3"
    assert (got / "card.json").read_text() == '{"version": "v3"}'
    # the manifest names the version and lets the worker check every file
    from services.common.model_registry import verify_model_dir

    assert verify_model_dir(got, "detector") == "v3"
    (got / "card.json").write_text("tampered")
    with pytest.raises(Exception, match="checksum mismatch on card.json"):
        verify_model_dir(got, "detector")
    (got / "card.json").write_text('{"version": "v3"}')

    # Once: a second resolve reuses the folder and needs no S3 at all (client=None would build one).
    class NoS3:
        def __getattr__(self, name):
            raise AssertionError("S3 was asked again for a cached version")

    assert resolve_model_dir("detector", tmp_path / "baked", uri, client=NoS3(), cache_dir=cache) == got


def test_new_version_is_one_setting_away(s3, tmp_path):
    publish_model_dir(_model_folder(tmp_path / "a", "c1"), "s3://models-bucket/models/classifier/c1/", client=s3)
    publish_model_dir(_model_folder(tmp_path / "b", "c2"), "s3://models-bucket/models/classifier/c2/", client=s3)
    d1 = resolve_model_dir("classifier", tmp_path, "s3://models-bucket/models/classifier/c1/", client=s3,
                           cache_dir=tmp_path / "cache")
    d2 = resolve_model_dir("classifier", tmp_path, "s3://models-bucket/models/classifier/c2/", client=s3,
                           cache_dir=tmp_path / "cache")
    assert d1 != d2
    assert (d1 / "card.json").read_text() == '{"version": "c1"}'
    assert (d2 / "card.json").read_text() == '{"version": "c2"}'


def test_versions_are_immutable(s3, tmp_path):
    publish_model_dir(_model_folder(tmp_path / "a", "x"), "s3://models-bucket/models/detector/imm/", client=s3)
    with pytest.raises(FileExistsError):
        publish_model_dir(_model_folder(tmp_path / "b", "y"), "s3://models-bucket/models/detector/imm/", client=s3)


def test_empty_prefix_fails_loudly_and_leaves_no_cache(s3, tmp_path):
    with pytest.raises(FileNotFoundError):
        resolve_model_dir("detector", tmp_path / "baked", "s3://models-bucket/models/detector/nope/", client=s3,
                          cache_dir=tmp_path / "cache")
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_concurrent_processes_download_once(s3, tmp_path):
    """Forked pool processes resolving together: one download, the others wait and reuse it."""
    publish_model_dir(_model_folder(tmp_path / "m", "conc"), "s3://models-bucket/models/detector/conc/", client=s3)
    uri = "s3://models-bucket/models/detector/conc/"
    downloads = []

    class Counting:
        def __getattr__(self, name):
            return getattr(s3, name)

        def download_file(self, *args):
            downloads.append(args[1])
            return s3.download_file(*args)

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        resolve_model_dir("detector", tmp_path, uri, client=Counting(), cache_dir=tmp_path / "cache")))
        for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(downloads) == ["models/detector/conc/card.json", "models/detector/conc/manifest.json",
                                 "models/detector/conc/weights/best.pt"]
    assert len(set(results)) == 1 and len(results) == 4
    assert (results[0] / "weights" / "best.pt").read_bytes() == b"\x00weights conc"
    parts = [p for p in (tmp_path / "cache").iterdir() if ".part-" in p.name]
    assert parts == []


def test_local_path_and_bad_uris(tmp_path):
    local = _model_folder(tmp_path / "local", "l")
    assert resolve_model_dir("detector", tmp_path, str(local)) == local
    assert resolve_model_dir("detector", tmp_path, f"file://{local}") == local
    with pytest.raises(ValueError):
        resolve_model_dir("detector", tmp_path, "gs://b/m/")
    with pytest.raises(ValueError):
        resolve_model_dir("recommender", tmp_path, None)
    with pytest.raises(ValueError):
        parse_s3_uri("s3://bucket-only")
    with pytest.raises(ValueError):
        parse_s3_uri("s3://b/models/../etc/")
    assert parse_s3_uri("s3://b/models/detector/v3") == ("b", "models/detector/v3/")


def test_env_vars_are_read(tmp_path, monkeypatch):
    local = _model_folder(tmp_path / "envmodel", "e")
    monkeypatch.setenv("SKETCHREF_CLASSIFIER_MODEL_URI", str(local))
    monkeypatch.setenv("SKETCHREF_MODEL_CACHE_DIR", str(tmp_path / "cache"))
    from services.classifier.settings import ClassifierSettings

    s = ClassifierSettings()  # the classifier's own setting, the shared cache folder
    assert (s.model_uri, s.model_cache_dir) == (str(local), tmp_path / "cache")
    assert resolve_model_dir("classifier", tmp_path / "baked", s.model_uri, cache_dir=s.model_cache_dir) == local
