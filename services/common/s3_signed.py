"""Signed S3 GET and PUT of one object, lean: the two calls on the path of every job.

Why not boto3 for these: on this 2-core machine a botocore ``put_object`` of a 3 KB crop costs ~3.5 ms
of CPU in the calling process (its event hooks, parameter validation, serialisation, checksums and
response parsing), and a job makes four of them (the sketch at the gateway, one crop per object at the
recommender). The same request signed here and sent on a kept-alive urllib3 connection costs a
fraction of that (``scripts/profile_services.py --no-flames`` shows the per-process CPU). Every other
S3 call (list, delete, head, buckets) stays on boto3, which also still supplies the credentials (its
provider chain: explicit keys, environment, a web identity or instance role, refreshed when they
expire).

Requests are signed with AWS Signature Version 4 (the ``AWS4-HMAC-SHA256`` scheme of the S3 API
reference: canonical request, string to sign, a signing key derived per day, region and service),
path-style (``<endpoint>/<bucket>/<key>``) like the boto3 client, with the payload's SHA-256 signed.

Failures are what the rest of the code already handles: a missing object is
:class:`~services.common.storage.NotFound`; a connection failure, timeout or 5xx answer is
:class:`StorageUnavailable` (a ``ConnectionError``, so tasks retry it as transient); any other answer
(403 for bad credentials, …) is :class:`StorageRefused` with S3's error code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class StorageUnavailable(ConnectionError):
    """S3 could not be reached, timed out or answered 5xx: worth another try later."""


class StorageRefused(RuntimeError):
    """S3 answered with a client error other than a missing key (bad credentials, no bucket, …)."""


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class SignedS3:
    """GET/PUT of objects in one bucket, signed with SigV4, on a pool of kept-alive connections."""

    def __init__(self, endpoint_url: str, bucket: str, region: str, credentials: Any,
                 connect_timeout: float = 3, read_timeout: float = 10, attempts: int = 3,
                 pool_size: int = 16) -> None:
        u = urlsplit(endpoint_url.rstrip("/"))
        self.host = u.netloc
        self.origin = f"{u.scheme}://{u.netloc}"
        self.prefix = u.path  # an endpoint below a path (a proxy's /s3): part of every signed path
        self.bucket, self.region, self.credentials = bucket, region, credentials
        self.http = urllib3.PoolManager(
            num_pools=2, maxsize=pool_size, block=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=urllib3.Retry(total=max(attempts - 1, 0), connect=max(attempts - 1, 0),
                                  read=max(attempts - 1, 0), status=max(attempts - 1, 0),
                                  status_forcelist=(500, 502, 503, 504), allowed_methods={"GET", "PUT"},
                                  backoff_factor=0.05, raise_on_status=False, respect_retry_after_header=False))
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def _signing_key(self, secret: str, day: str) -> bytes:
        with self._lock:
            k = self._keys.get((secret, day))
            if k is None:
                k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), self.region), "s3"), "aws4_request")
                self._keys = {(secret, day): k}  # one day's key: yesterday's is never needed again
            return k

    def _path(self, key: str) -> str:
        # S3 signs the path as sent, each segment percent-encoded once (RFC 3986 unreserved kept)
        return f"{self.prefix}/{quote(self.bucket, safe='')}/{quote(key, safe='/-_.~')}"

    def signed_headers(self, method: str, path: str, payload_sha: str, extra: dict[str, str] | None = None,
                       now: dt.datetime | None = None) -> dict[str, str]:
        """The headers of a signed request: ``x-amz-*``, ``Authorization`` and ``extra`` (signed too)."""
        creds = self.credentials.get_frozen_credentials()
        t = now or dt.datetime.now(dt.UTC)
        stamp, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
        headers = {"host": self.host, "x-amz-content-sha256": payload_sha, "x-amz-date": stamp,
                   **{k.lower(): v for k, v in (extra or {}).items()}}
        if creds.token:
            headers["x-amz-security-token"] = creds.token
        names = sorted(headers)
        canonical = "\n".join([method, path, "", *(f"{n}:{headers[n].strip()}" for n in names), "",
                               ";".join(names), payload_sha])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(self._signing_key(creds.secret_key, day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={signature}")
        del headers["host"]  # urllib3 sends it from the URL
        return headers

    def _send(self, method: str, key: str, body: bytes | None, extra: dict[str, str] | None = None):
        path = self._path(key)
        sha = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        try:
            return self.http.request(method, self.origin + path, body=body,
                                     headers=self.signed_headers(method, path, sha, extra), preload_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out, retries spent
            raise StorageUnavailable(f"S3 {method} failed: {type(exc).__name__}") from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        r = self._send("PUT", key, data, {"content-type": content_type})
        if r.status != 200:
            raise self._error("PUT", key, r)

    def get(self, key: str) -> bytes:
        from .storage import NotFound

        r = self._send("GET", key, None)
        if r.status == 200:
            return bytes(r.data)
        if r.status == 404:
            raise NotFound(key)
        raise self._error("GET", key, r)

    @staticmethod
    def _error(method: str, key: str, r) -> Exception:
        m = re.search(rb"<Code>([^<]{1,64})</Code>", r.data or b"")
        code = m.group(1).decode(errors="replace") if m else str(r.status)
        if r.status >= 500:
            return StorageUnavailable(f"S3 {method} answered {r.status} {code}")
        return StorageRefused(f"S3 {method} of {key!r} refused: {r.status} {code}")
