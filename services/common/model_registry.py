"""The model registry on S3: immutable versions, a ``current`` alias and an optional weighted ``canary``.

Layout under the bucket (one folder per model kind)::

    models/<kind>/<version>/...            the model files, never overwritten once published
    models/<kind>/<version>/manifest.json  {"kind", "version", "files": {path: sha256}, "published_at"}
    models/<kind>/aliases.json             {"current": "v3", "canary": {"version": "v4", "weight": 0.2},
                                            "history": ["v2", ...]}   (the only object that changes)

``aliases.json`` is the source of truth; every change of it is also written to Redis
(:data:`ROUTES_KEY`, a hash ``kind -> {"current", "canary", "weight"}``), which the gateway's router
reads with a short cache (:mod:`services.common.routing`), so a promotion or a rollback reaches new
jobs within seconds and no worker restarts.

A worker checks its model folder before it serves (:func:`verify_model_dir`): with a manifest, every
file's SHA-256 must match; the folder's version is the manifest's. A folder without a manifest (the
model baked into an image, a local path) is named by a digest of its files, ``sha-<12 hex>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
ROUTES_KEY = "sketchref:models:routes"
KINDS = ("detector", "classifier")
_SKIP = {".sketchref-complete", MANIFEST}


class ModelError(Exception):
    """The model folder cannot be served: missing, incomplete or not what its manifest says."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(model_dir: Path) -> list[Path]:
    return sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name not in _SKIP
                  and not p.name.endswith(".lock"))


def make_manifest(model_dir: Path, kind: str, version: str) -> dict:
    files = {p.relative_to(model_dir).as_posix(): sha256_file(p) for p in _files(Path(model_dir))}
    if not files:
        raise ModelError(f"no model files in {model_dir}")
    return {"kind": kind, "version": version, "files": files,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def verify_model_dir(model_dir: Path, kind: str) -> str:
    """Check the folder against its manifest (or require ``config.json`` without one); its version."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{kind} model folder {model_dir} does not exist")
    mf = model_dir / MANIFEST
    if mf.is_file():
        try:
            manifest = json.loads(mf.read_text())
            files = dict(manifest["files"])
            version = str(manifest["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{mf} is not a model manifest ({type(exc).__name__})") from exc
        if manifest.get("kind") not in (None, kind):
            raise ModelError(f"{mf} describes a {manifest.get('kind')} model, not a {kind} model")
        for rel, digest in files.items():
            p = model_dir / rel
            if not p.is_file():
                raise ModelError(f"{kind} model {version}: {rel} is missing")
            if sha256_file(p) != digest:
                raise ModelError(f"{kind} model {version}: checksum mismatch on {rel}")
        return version
    files = _files(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{kind} model folder {model_dir} has no config.json and no {MANIFEST}")
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(model_dir).as_posix().encode() + b"\0" + sha256_file(p).encode())
    return "sha-" + h.hexdigest()[:12]


@dataclass
class Aliases:
    current: str | None = None
    canary: str | None = None
    weight: float = 0.0
    history: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        canary = {"version": self.canary, "weight": self.weight} if self.canary else None
        return {"current": self.current, "canary": canary, "history": self.history}

    @classmethod
    def from_json(cls, d: dict) -> Aliases:
        c = d.get("canary") or {}
        return cls(d.get("current"), c.get("version"), float(c.get("weight", 0.0)), list(d.get("history", [])))


class Registry:
    """Versions and aliases of every model kind in one storage (S3 or a local folder), plus the
    Redis copy of the routes (``redis_client`` may be None: S3 only)."""

    def __init__(self, storage, redis_client=None, root: str = "models"):
        self.storage, self.r, self.root = storage, redis_client, root.strip("/")

    def _prefix(self, kind: str, version: str | None = None) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(KINDS)}")
        if version is not None and (not version or "/" in version or version in (".", "..", "aliases.json")
                                    or "@" in version):
            raise ValueError(f"bad version name {version!r}")
        return f"{self.root}/{kind}/" + (f"{version}/" if version else "")

    def uri(self, bucket: str, kind: str, version: str) -> str:
        return f"s3://{bucket}/{self._prefix(kind, version)}"

    # -- versions ---------------------------------------------------------------------------------
    def versions(self, kind: str) -> list[str]:
        prefix = self._prefix(kind)
        found = {k[len(prefix):].split("/", 1)[0] for k in self.storage.list(prefix) if k.endswith("/" + MANIFEST)}
        return sorted(found)

    def manifest(self, kind: str, version: str) -> dict | None:
        key = self._prefix(kind, version) + MANIFEST
        return json.loads(self.storage.get(key)) if self.storage.exists(key) else None

    def publish(self, kind: str, version: str, local_dir: Path) -> dict:
        """Upload ``local_dir`` as ``version`` with its manifest (written last); refuses an existing one."""
        prefix = self._prefix(kind, version)
        if self.storage.list(prefix):
            raise FileExistsError(f"{kind} {version} exists already; versions are immutable")
        manifest = make_manifest(Path(local_dir), kind, version)
        for rel in manifest["files"]:
            self.storage.put(prefix + rel, (Path(local_dir) / rel).read_bytes())
        self.storage.put(prefix + MANIFEST, json.dumps(manifest, indent=1).encode(), "application/json")
        return manifest

    # -- aliases ----------------------------------------------------------------------------------
    def aliases(self, kind: str) -> Aliases:
        key = self._prefix(kind) + "aliases.json"
        return Aliases.from_json(json.loads(self.storage.get(key))) if self.storage.exists(key) else Aliases()

    def _save(self, kind: str, a: Aliases) -> Aliases:
        self.storage.put(self._prefix(kind) + "aliases.json", json.dumps(a.to_json()).encode(), "application/json")
        self.sync(kind, a)
        return a

    def sync(self, kind: str, a: Aliases | None = None) -> None:
        """Copy the aliases of ``kind`` into the Redis routes the gateway reads."""
        if self.r is None:
            return
        a = a or self.aliases(kind)
        self.r.hset(ROUTES_KEY, kind, json.dumps({"current": a.current, "canary": a.canary, "weight": a.weight}))

    def _require(self, kind: str, version: str) -> None:
        if self.manifest(kind, version) is None:
            raise FileNotFoundError(f"{kind} {version} is not in the registry (publish it first)")

    def promote(self, kind: str, version: str, weight: float | None = None) -> Aliases:
        """``weight`` in (0, 1): ``version`` becomes the canary, served to that share of new jobs.
        None or 1: it becomes ``current`` (the previous one goes to the history) and the canary ends."""
        self._require(kind, version)
        a = self.aliases(kind)
        if weight is not None and not 0.0 < weight <= 1.0:
            raise ValueError("weight must be in (0, 1]")
        if weight is not None and weight < 1.0:
            if version == a.current:
                raise ValueError(f"{version} is already current")
            a.canary, a.weight = version, float(weight)
            return self._save(kind, a)
        if a.current and a.current != version:
            a.history.append(a.current)
        a.current, a.canary, a.weight = version, None, 0.0
        return self._save(kind, a)

    def rollback(self, kind: str) -> Aliases:
        """End the canary if there is one (all new jobs to ``current``); else ``current`` goes back to
        the version before it."""
        a = self.aliases(kind)
        if a.canary:
            a.canary, a.weight = None, 0.0
        elif a.history:
            a.current = a.history.pop()
        else:
            raise ValueError(f"{kind}: nothing to roll back (no canary, no earlier version)")
        return self._save(kind, a)


def read_routes(redis_client) -> dict[str, dict]:
    """The Redis copy of the aliases: ``{kind: {"current", "canary", "weight"}}``."""
    raw = redis_client.hgetall(ROUTES_KEY)
    return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}
