"""``sketchref env [--file .env]``: write a local ``.env`` with random keys for docker-compose.

docker-compose.yml has no default credentials: it refuses to start (``config`` fails, naming the
variable) until the S3 key pair and the Redis password are set. This command generates them with
:mod:`secrets` into a file only its owner can read (mode 0600). An existing file keeps the values it
has; only missing keys are added (``--force`` replaces them all). Nothing secret is printed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # no settings import: runs before `make setup`

# name -> how to make a value
KEYS = {
    "SKETCHREF_S3_ACCESS_KEY": lambda: "sketchref-" + secrets.token_hex(8),
    "SKETCHREF_S3_SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "SKETCHREF_REDIS_PASSWORD": lambda: secrets.token_hex(24),
}


def add_arguments(parser) -> None:
    parser.add_argument("--file", type=Path, default=ROOT / ".env", help="where to write (default ./.env)")
    parser.add_argument("--force", action="store_true", help="replace keys that are already set")


def read_env(path: Path) -> dict[str, str]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[name.strip()] = value.strip()
    return out


def write_env(path: Path, force: bool = False) -> list[str]:
    """Add the missing keys (all with ``force``) to ``path``; returns the names written."""
    old = read_env(path)
    lines = path.read_text().splitlines() if path.exists() and not force else []
    written = []
    for name, make in KEYS.items():
        if force or not old.get(name):
            lines = [ln for ln in lines if not ln.startswith(name + "=")]
            lines.append(f"{name}={make()}")
            written.append(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return written


def run(args) -> int:
    written = write_env(args.file, args.force)
    kept = [k for k in KEYS if k not in written]
    print(f"{args.file}: wrote {', '.join(written) or 'nothing'}" + (f"; kept {', '.join(kept)}" if kept else ""))
    return 0
