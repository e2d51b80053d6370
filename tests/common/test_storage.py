"""S3 storage on the real SeaweedFS test server: round trip, and only the configured key gets in."""

from __future__ import annotations

import httpx
import pytest

from services.common.storage import NotFound
from tests.services.stack import BUCKET, s3_endpoint, s3_storage  # noqa: F401


def test_round_trip(s3_endpoint):  # noqa: F811
    s = s3_storage(s3_endpoint)
    s.put("storage-test/a.bin", b"\x00\x01", "application/octet-stream")
    assert s.get("storage-test/a.bin") == b"\x00\x01"
    assert s.exists("storage-test/a.bin") and "storage-test/a.bin" in s.list("storage-test/")
    s.delete("storage-test/a.bin")
    with pytest.raises(NotFound):
        s.get("storage-test/a.bin")


def test_the_s3_server_refuses_anonymous_and_wrongly_signed_requests(s3_endpoint):  # noqa: F811
    # the local servers (tests, `sketchref up`) start SeaweedFS with one identity (processes.weed_env)
    s3_storage(s3_endpoint).put("storage-test/secret.txt", b"sketch", "text/plain")
    assert httpx.get(f"{s3_endpoint}/{BUCKET}/storage-test/secret.txt").status_code == 403
    assert httpx.put(f"{s3_endpoint}/{BUCKET}/storage-test/x.txt", content=b"x").status_code == 403
    with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|Forbidden|403"):
        s3_storage(s3_endpoint, secret="wrong").get("storage-test/secret.txt")
