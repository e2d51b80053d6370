"""Where a worker's model comes from: the files baked into its image, or a versioned S3 prefix.

A training Job writes every model it makes under a new, never-overwritten prefix such as
``s3://sketchref/models/detector/v3/``. A worker serves that version when its setting points there::

    SKETCHREF_DETECTOR_MODEL_URI=s3://sketchref/models/detector/v3/
    SKETCHREF_CLASSIFIER_MODEL_URI=s3://sketchref/models/classifier/lora-qmw-2/

so rolling out (or back) a model is changing one setting and restarting the workers. Unset or empty,
the worker uses the model shipped in the image (``models/<kind>/``).

:func:`resolve_model_dir` downloads the prefix once into ``SKETCHREF_MODEL_CACHE_DIR`` (one folder
per bucket and prefix, written to a temporary folder and renamed when complete, guarded by a file
lock so the forked pool processes of one worker download it once between them) and returns that
folder. A prefix that holds no object is an error, never a silent fall-back to the image's model:
a mistyped rollout must fail the new pods (the old ones keep serving), not serve the wrong model.

``python -m services.common.model_source publish DIR s3://bucket/prefix/`` uploads a trained model
folder (what the training Jobs run), ``check-new URI`` fails when that version exists already (run
before training, so a Job never trains for an hour to then be refused), and ``fetch KIND URI``
pre-downloads a version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock

from .settings import CommonSettings, get_settings

KINDS = ("detector", "classifier")
_COMPLETE = ".sketchref-complete"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> ``("bucket", "a/b/")``; the prefix always ends with ``/``."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    prefix = parts.path.lstrip("/")
    if not prefix:
        raise ValueError(f"an s3:// model URI needs a prefix under the bucket (e.g. models/detector/v3/): {uri!r}")
    if not prefix.endswith("/"):
        prefix += "/"
    if any(seg in ("", ".", "..") for seg in prefix[:-1].split("/")):
        raise ValueError(f"malformed prefix in {uri!r}")
    return parts.netloc, prefix


def _cache_folder(cache_dir: Path, bucket: str, prefix: str) -> Path:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{bucket}_{prefix}".strip("/"))[:80]
    digest = hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:12]
    return cache_dir / f"{readable}-{digest}"


def _s3_client(settings: CommonSettings | None = None) -> Any:
    from .storage import S3Storage

    return S3Storage.from_settings(settings or CommonSettings()).client


def download_prefix(client: Any, bucket: str, prefix: str, target: Path) -> Path:
    """Copy every object under ``prefix`` into ``target`` (keeping sub-folders), once.

    Returns ``target``. A folder that already carries the completion marker is reused as it is.
    """
    if (target / _COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.with_name(target.name + ".lock")):
        if (target / _COMPLETE).is_file():  # another process finished it while we waited
            return target
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        if not keys:
            raise FileNotFoundError(f"no model files under s3://{bucket}/{prefix}")
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".part-", dir=target.parent))
        try:
            root = tmp.resolve()
            for key in keys:
                dest = (tmp / key[len(prefix):]).resolve()
                if root not in dest.parents:
                    raise ValueError(f"object key escapes the model folder: {key!r}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(dest))
            (tmp / _COMPLETE).write_text(f"s3://{bucket}/{prefix}\n")
            if target.exists():  # a partial folder from an interrupted older layout
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def resolve_model_dir(kind: str, default_dir: Path, uri: str | None, *, client: Any = None,
                      cache_dir: Path | None = None) -> Path:
    """The folder a ``kind`` worker loads its model from.

    ``uri`` (the service's ``SKETCHREF_<KIND>_MODEL_URI``) set to ``s3://bucket/prefix/``: that
    version, downloaded once into ``cache_dir`` (default: the shared ``SKETCHREF_MODEL_CACHE_DIR``)
    and returned. Set to a local path (or ``file://`` URI): that folder. Unset or empty:
    ``default_dir`` (the model baked into the image). ``client`` is an S3 client (boto3 API); by
    default one is made from the common S3 settings (endpoint, credentials).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(KINDS)}")
    uri = (uri or "").strip()
    if not uri:
        return Path(default_dir)
    if uri.startswith("s3://"):
        bucket, prefix = parse_s3_uri(uri)
        target = _cache_folder(Path(cache_dir or get_settings().model_cache_dir), bucket, prefix)
        if (target / _COMPLETE).is_file():
            return target
        return download_prefix(client or _s3_client(), bucket, prefix, target)
    if uri.startswith("file://"):
        uri = urlsplit(uri).path
    if "://" in uri:
        raise ValueError(f"SKETCHREF_{kind.upper()}_MODEL_URI must be s3://… or a local path, not {uri!r}")
    path = Path(uri)
    if not path.is_dir():
        raise FileNotFoundError(f"SKETCHREF_{kind.upper()}_MODEL_URI points at a missing folder: {path}")
    return path


def service_model_dir(kind: str, s: Any) -> Path:
    """The folder the ``kind`` service's settings ``s`` name: the version its ``model_uri`` points at
    (downloaded into the shared ``model_cache_dir``), else its ``model_dir``."""
    return resolve_model_dir(kind, Path(s.model_dir), s.model_uri, cache_dir=s.model_cache_dir)


def publish_model_dir(local_dir: Path, uri: str, *, client: Any = None) -> list[str]:
    """Upload every file of ``local_dir`` under the ``s3://`` prefix ``uri``; returns the keys.

    Refuses to write into a prefix that already holds objects: versions are immutable, so a worker
    that cached ``v3`` never serves something else under that name.
    """
    bucket, prefix = parse_s3_uri(uri)
    local_dir = Path(local_dir)
    files = sorted(p for p in local_dir.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"nothing to publish in {local_dir}")
    client = client or _s3_client()
    existing = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
    if existing:
        raise FileExistsError(f"s3://{bucket}/{prefix} already holds a model; publish a new version")
    keys = []
    for p in files:
        key = prefix + p.relative_to(local_dir).as_posix()
        client.upload_file(str(p), bucket, key)
        keys.append(key)
    # the manifest last (the registry lists versions by it; workers check every file against it)
    from .model_registry import MANIFEST, make_manifest

    parts = prefix.rstrip("/").split("/")
    manifest = make_manifest(local_dir, parts[-2] if len(parts) > 1 else "", parts[-1])
    if not (local_dir / MANIFEST).is_file():
        client.put_object(Bucket=bucket, Key=prefix + MANIFEST, Body=json.dumps(manifest, indent=1).encode())
        keys.append(prefix + MANIFEST)
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.model_source",
                                     description="Publish or fetch versioned model folders on S3.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    pub = sub.add_parser("publish", help="upload a trained model folder to a new s3:// prefix")
    pub.add_argument("local_dir", type=Path)
    pub.add_argument("uri")
    new = sub.add_parser("check-new", help="fail unless the s3:// prefix is still empty (before training)")
    new.add_argument("uri")
    fetch = sub.add_parser("fetch", help="download a model version into the cache and print its folder")
    fetch.add_argument("kind", choices=KINDS)
    fetch.add_argument("uri", help="s3://bucket/models/KIND/VERSION/ or a local folder")
    fetch.add_argument("--default-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "publish":
            keys = publish_model_dir(args.local_dir, args.uri)
            print(f"published {len(keys)} files to {args.uri}")
        elif args.cmd == "check-new":
            bucket, prefix = parse_s3_uri(args.uri)
            if _s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0):
                raise FileExistsError(f"{args.uri} already holds a model; choose a new version")
            print(f"{args.uri} is free")
        else:
            default = args.default_dir or CommonSettings().models_dir / args.kind
            print(resolve_model_dir(args.kind, default, args.uri))
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
