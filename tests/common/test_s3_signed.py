"""The lean signed S3 client (GET/PUT on every job's path): the signature, and real round trips.

The signature is checked two ways: against the worked example of the S3 API reference (a GET of
``/test.txt`` with a ``Range`` header, 24 May 2013), and against botocore's own SigV4 signer on a PUT.
The round trips run on the real SeaweedFS test server, mixing this client with boto3's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket

import pytest
from botocore.credentials import Credentials

from services.common.s3_signed import EMPTY_SHA256, SignedS3, StorageRefused, StorageUnavailable
from services.common.storage import NotFound
from tests.services.stack import BUCKET, s3_endpoint, s3_storage  # noqa: F401

EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
WHEN = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)


@pytest.mark.unit
def test_signature_of_the_s3_reference_example():
    s = SignedS3("https://examplebucket.s3.amazonaws.com", "examplebucket", "us-east-1", EXAMPLE)
    h = s.signed_headers("GET", "/test.txt", EMPTY_SHA256, {"Range": "bytes=0-9"}, now=WHEN)
    assert h["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert h["x-amz-date"] == "20130524T000000Z" and "host" not in h


@pytest.mark.unit
@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
def test_signature_matches_botocore_for_a_put(token, monkeypatch):
    import botocore.auth
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest

    creds = Credentials(EXAMPLE.access_key, EXAMPLE.secret_key, token)
    s = SignedS3("http://127.0.0.1:8333", "sketchref", "eu-west-1", creds)
    body = b"\x89PNG crop"
    sha = hashlib.sha256(body).hexdigest()
    path = s._path("crops/job 1/ü+0.png")
    ours = s.signed_headers("PUT", path, sha, {"Content-Type": "image/png"}, now=WHEN)
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:8333{path}", data=body,
                     headers={"Content-Type": "image/png", "x-amz-content-sha256": sha})
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    S3SigV4Auth(creds.get_frozen_credentials(), "s3", "eu-west-1").add_auth(req)
    assert ours["authorization"] == req.headers["Authorization"]


@pytest.mark.integration
def test_round_trips_mix_with_boto3(s3_endpoint):  # noqa: F811
    storage = s3_storage(s3_endpoint)
    assert storage.signed is not None  # from_settings takes the lean path for put/get
    key = "signed-test/a job/ü+crop 0.png"
    storage.put(key, b"\x00png", "image/png")
    got = storage.client.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == b"\x00png" and got["ContentType"] == "image/png"
    storage.client.put_object(Bucket=BUCKET, Key="signed-test/b.bin", Body=b"b" * 70_000)
    assert storage.get("signed-test/b.bin") == b"b" * 70_000
    assert sorted(storage.list("signed-test/")) == ["signed-test/a job/ü+crop 0.png", "signed-test/b.bin"]
    with pytest.raises(NotFound):
        storage.get("signed-test/missing.png")


@pytest.mark.integration
def test_wrong_secret_is_refused_with_s3s_code(s3_endpoint):  # noqa: F811
    bad = s3_storage(s3_endpoint, secret="wrong")
    with pytest.raises(StorageRefused, match="SignatureDoesNotMatch|AccessDenied|403"):
        bad.put("signed-test/x.png", b"x", "image/png")
    with pytest.raises(StorageRefused):
        bad.get("signed-test/x.png")


@pytest.mark.integration  # it connects (to a closed port)
def test_an_unreachable_server_is_a_transient_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = SignedS3(f"http://127.0.0.1:{port}", "sketchref", "us-east-1", EXAMPLE, connect_timeout=0.5, attempts=2)
    with pytest.raises(StorageUnavailable) as e:
        s.put("k.png", b"x", "image/png")
    assert isinstance(e.value, ConnectionError)  # what tasks retry (services.common.queue.TRANSIENT_ERRORS)
