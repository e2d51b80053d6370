"""``sketchref models list|publish|promote|rollback|sync``: the model registry on S3.

- ``list [KIND]``: every version of each kind, marking ``current`` and the canary (with its weight);
- ``publish KIND VERSION DIR``: upload a trained model folder as a new, immutable version (with its
  manifest of SHA-256 sums, which the workers check before serving);
- ``promote KIND VERSION [--weight 0.2]``: with a weight below 1, ``VERSION`` becomes the canary and
  that share of new jobs goes to its workers (``sketchref worker KIND --model-version VERSION``);
  without, it becomes ``current`` (start the plain workers on it: ``--model-version`` or its URI);
- ``rollback KIND``: end the canary (every new job to ``current`` within the gateway's route cache,
  2 s), or, with no canary, make the previous version ``current`` again;
- ``sync``: copy the aliases from S3 into Redis again (after a Redis flush).

Every change is written to ``models/<kind>/aliases.json`` on S3 and to the Redis routes the gateway
reads (:mod:`services.common.model_registry`). S3 and Redis come from the usual settings
(``SKETCHREF_S3_*``, ``SKETCHREF_REDIS_URL``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.model_registry import KINDS


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="versions and aliases")
    ls.add_argument("kind", nargs="?", choices=KINDS)
    pub = sub.add_parser("publish", help="upload a model folder as a new version")
    pub.add_argument("kind", choices=KINDS)
    pub.add_argument("version")
    pub.add_argument("dir", type=Path)
    pro = sub.add_parser("promote", help="make a version current, or the canary with --weight")
    pro.add_argument("kind", choices=KINDS)
    pro.add_argument("version")
    pro.add_argument("--weight", type=float, default=None, help="share of new jobs for a canary, in (0, 1)")
    rb = sub.add_parser("rollback", help="end the canary, or go back to the previous current")
    rb.add_argument("kind", choices=KINDS)
    sub.add_parser("sync", help="copy the aliases from S3 to Redis")


def registry():
    import redis

    from services.common.model_registry import Registry
    from services.common.settings import CommonSettings
    from services.common.storage import S3Storage

    s = CommonSettings()
    return Registry(S3Storage.from_settings(s), redis.Redis.from_url(s.redis_url, socket_timeout=5))


def describe(reg, kind: str) -> list[str]:
    a = reg.aliases(kind)
    lines = []
    for v in reg.versions(kind):
        marks = (["current"] if v == a.current else []) + ([f"canary {a.weight:.0%}"] if v == a.canary else [])
        lines.append(f"{kind:<11} {v:<20} {', '.join(marks)}".rstrip())
    return lines or [f"{kind:<11} (no versions)"]


def run(args) -> int:
    try:
        reg = registry()
        if args.action == "list":
            for kind in [args.kind] if args.kind else KINDS:
                print("\n".join(describe(reg, kind)))
        elif args.action == "publish":
            m = reg.publish(args.kind, args.version, args.dir)
            print(f"published {args.kind} {args.version}: {len(m['files'])} files")
        elif args.action == "promote":
            a = reg.promote(args.kind, args.version, args.weight)
            what = f"canary at {a.weight:.0%}" if a.canary == args.version else "current"
            print(f"{args.kind} {args.version} is {what} (current: {a.current})")
        elif args.action == "rollback":
            a = reg.rollback(args.kind)
            print(f"{args.kind}: every new job to {a.current} (canary: {a.canary or 'none'})")
        else:
            for kind in KINDS:
                reg.sync(kind)
            print("routes copied to Redis")
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
