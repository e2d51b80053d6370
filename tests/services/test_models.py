"""``sketchref models`` and the registry against the real SeaweedFS and Redis of the test stack."""

from __future__ import annotations

import json

import pytest
import redis

from cli.main import main
from services.common.model_registry import ModelError, Registry, read_routes, verify_model_dir
from tests.services.stack import BUCKET, S3_KEY, s3_storage


def _folder(path, tag: str):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"tag": tag}))
    (path / "weights.bin").write_bytes(tag.encode() * 100)
    return path


@pytest.fixture
def cli_env(monkeypatch, redis_url, s3_endpoint):
    for k, v in {"SKETCHREF_REDIS_URL": redis_url, "SKETCHREF_S3_ENDPOINT_URL": s3_endpoint,
                 "SKETCHREF_S3_BUCKET": BUCKET, "SKETCHREF_S3_ACCESS_KEY": S3_KEY,
                 "SKETCHREF_S3_SECRET_KEY": S3_KEY}.items():
        monkeypatch.setenv(k, v)
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    storage = s3_storage(s3_endpoint)
    for key in storage.list("models/"):
        storage.delete(key)
    return Registry(storage, r)


def test_publish_promote_canary_rollback_by_command(cli_env, tmp_path, capsys):
    reg = cli_env
    assert main(["models", "publish", "classifier", "v1", str(_folder(tmp_path / "a", "one"))]) == 0
    assert main(["models", "publish", "classifier", "v2", str(_folder(tmp_path / "b", "two"))]) == 0
    # immutable: the same version again is refused, with a clear message and status 2
    assert main(["models", "publish", "classifier", "v2", str(_folder(tmp_path / "c", "other"))]) == 2
    assert "immutable" in capsys.readouterr().err
    assert reg.versions("classifier") == ["v1", "v2"]
    assert reg.manifest("classifier", "v2")["files"].keys() == {"config.json", "weights.bin"}

    assert main(["models", "promote", "classifier", "v1"]) == 0
    assert main(["models", "promote", "classifier", "v2", "--weight", "0.2"]) == 0
    capsys.readouterr()
    assert main(["models", "list", "classifier"]) == 0
    out = capsys.readouterr().out
    assert "v1" in out and "current" in out and "canary 20%" in out
    assert read_routes(reg.r)["classifier"] == {"current": "v1", "canary": "v2", "weight": 0.2}

    # rollback, one command: the canary ends, in S3 and in the Redis routes the gateway reads
    assert main(["models", "rollback", "classifier"]) == 0
    assert read_routes(reg.r)["classifier"] == {"current": "v1", "canary": None, "weight": 0.0}
    assert reg.aliases("classifier").canary is None

    # full promotion then rollback to the previous current
    assert main(["models", "promote", "classifier", "v2"]) == 0
    assert reg.aliases("classifier").current == "v2" and reg.aliases("classifier").history == ["v1"]
    assert main(["models", "rollback", "classifier"]) == 0
    assert reg.aliases("classifier").current == "v1"
    assert main(["models", "rollback", "classifier"]) == 2  # nothing left to roll back
    assert main(["models", "promote", "classifier", "v9"]) == 2  # not published
    assert main(["models", "promote", "classifier", "v2", "--weight", "1.5"]) == 2

    # Redis flushed: sync restores the routes from S3, the source of truth
    reg.r.flushdb()
    assert main(["models", "sync"]) == 0
    assert read_routes(reg.r)["classifier"]["current"] == "v1"


def test_a_published_version_downloads_and_verifies(cli_env, tmp_path, monkeypatch):
    from services.common.model_source import resolve_model_dir

    reg = cli_env
    reg.publish("detector", "d7", _folder(tmp_path / "d", "seven"))
    uri = f"s3://{BUCKET}/models/detector/d7/"
    got = resolve_model_dir("detector", tmp_path / "baked", uri, cache_dir=tmp_path / "cache")
    assert verify_model_dir(got, "detector") == "d7"
    (got / "weights.bin").write_bytes(b"corrupt")
    with pytest.raises(ModelError, match="checksum mismatch on weights.bin"):
        verify_model_dir(got, "detector")
    with pytest.raises(ModelError, match="not a classifier model"):
        verify_model_dir(got, "classifier")


def test_folders_without_a_manifest_are_named_by_their_digest(tmp_path):
    a = _folder(tmp_path / "a", "x")
    v = verify_model_dir(a, "detector")
    assert v.startswith("sha-") and len(v) == 16 and v == verify_model_dir(a, "detector")
    (a / "weights.bin").write_bytes(b"changed")
    assert verify_model_dir(a, "detector") != v
    (a / "config.json").unlink()
    with pytest.raises(ModelError, match="no config.json"):
        verify_model_dir(a, "detector")
    with pytest.raises(ModelError, match="does not exist"):
        verify_model_dir(tmp_path / "v99-typo", "detector")
