"""Blob storage behind one small interface: S3 (boto3) for the services, a local folder embedded.

Keys are ``/``-separated strings (``sketches/<job>.png``, ``crops/<job>/<i>.png``,
``cache/recommender/<hash>.json``). The S3 client is injectable so tests choose the real SeaweedFS
server or anything else that speaks S3.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .settings import CommonSettings, get_settings

if TYPE_CHECKING:
    from .s3_signed import SignedS3


class NotFound(KeyError):
    pass


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


class LocalStorage:
    """A folder; writes are atomic (temp file + rename) so readers never see half a file."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise ValueError(f"key escapes the storage folder: {key!r}")
        return p

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self.root
        if not base.exists():
            return []
        keys = [p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()]
        return sorted(k for k in keys if k.startswith(prefix))


class S3Storage:
    """S3 through boto3; ``signed`` (:class:`~services.common.s3_signed.SignedS3`, which
    :meth:`from_settings` makes) takes over ``put`` and ``get``, the calls every job makes."""

    def __init__(self, client: Any, bucket: str, signed: SignedS3 | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.signed = signed

    @classmethod
    def from_settings(cls, s: CommonSettings | None = None, connect_timeout: float = 3,
                      read_timeout: float = 10, total_attempts: int | None = None) -> S3Storage:
        """``total_attempts`` 1 and short timeouts on a request path (the gateway answers 503 fast);
        by default botocore's standard mode with 3 retries."""
        import boto3
        from botocore.config import Config

        from .s3_signed import SignedS3

        s = s or get_settings()
        session = boto3.Session(
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key.get_secret_value() if s.s3_access_key else None,
            aws_secret_access_key=s.s3_secret_key.get_secret_value() if s.s3_secret_key else None)
        client = session.client(
            "s3",
            endpoint_url=s.s3_endpoint_url,
            config=Config(retries={"mode": "standard", **({"max_attempts": 3} if total_attempts is None
                                                          else {"total_max_attempts": total_attempts})},
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          s3={"addressing_style": "path"},
                          # checksums only where S3 requires them (botocore >= 1.36 adds one to every upload)
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"),
        )
        credentials = session.get_credentials()
        signed = None
        if s.s3_endpoint_url and credentials is not None:
            signed = SignedS3(s.s3_endpoint_url, s.s3_bucket, s.s3_region, credentials, connect_timeout,
                              read_timeout, attempts=total_attempts or 4)
        return cls(client, s.s3_bucket, signed)

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        if self.signed is not None:
            self.signed.put(key, data, content_type)
            return
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        if self.signed is not None:
            return self.signed.get(key)
        try:
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return data
        except self.client.exceptions.NoSuchKey as exc:
            raise NotFound(key) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception:
            return False

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)


def get_storage(s: CommonSettings | None = None) -> Storage:
    """S3 when an endpoint is configured, else the local folder (embedded mode)."""
    s = s or get_settings()
    if s.s3_endpoint_url:
        return S3Storage.from_settings(s)
    return LocalStorage(s.local_storage_dir)
