"""Health probes and graceful drain for containers: ``python -m services.common.probe …``.

- ``gateway [--url URL]``: GET the gateway's ``/healthz`` (Docker HEALTHCHECK; the slim image has
  no curl).
- ``worker``: liveness of the Celery worker(s) running on this host — a broadcast ``ping`` over the
  broker must be answered by a node named ``…@<this hostname>``. A hung worker stops answering.
- ``broker``: readiness — Redis answers ``PING``.
- ``drain --queue Q``: tell the workers on this host to stop consuming ``Q`` (Kubernetes ``preStop``),
  so the task in flight finishes and nothing new is taken before SIGTERM starts Celery's warm
  shutdown. A message a killed worker held is not lost either way: with ``acks_late`` it stays
  unacknowledged in Redis and is delivered again.

Nothing here imports torch or the worker modules: a probe is a short, small process. Exit status 0
means healthy; the reason for a failure goes to stderr, without URLs' credentials.
"""

from __future__ import annotations

import argparse
import socket
import sys

from .settings import CommonSettings


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def check_gateway(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return False, f"{url}: {type(exc).__name__}"
    return r.status_code == 200, f"{url}: HTTP {r.status_code}"


def check_broker(redis_url: str, timeout: float = 3.0) -> tuple[bool, str]:
    import redis

    try:
        ok = bool(redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout).ping())
    except redis.RedisError as exc:
        return False, f"{_redact(redis_url)}: {type(exc).__name__}"
    return ok, f"{_redact(redis_url)}: PING {'ok' if ok else 'failed'}"


def local_nodes(redis_url: str, hostname: str, timeout: float = 3.0) -> list[str]:
    """Names of the Celery nodes on ``hostname`` that answer a broadcast ping."""
    from celery import Celery

    app = Celery("sketchref-probe", broker=redis_url)
    app.conf.broker_connection_retry_on_startup = False
    app.conf.broker_connection_max_retries = 1
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    names = [name for reply in replies for name in reply]
    return sorted(n for n in names if n.rsplit("@", 1)[-1] == hostname)


def check_worker(redis_url: str, hostname: str, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        nodes = local_nodes(redis_url, hostname, timeout)
    except Exception as exc:  # broker down, etc.: the worker cannot be reached, so it is not live
        return False, f"ping over {_redact(redis_url)} failed: {type(exc).__name__}"
    return bool(nodes), f"nodes on {hostname}: {', '.join(nodes) or 'none answered'}"


def drain(redis_url: str, hostname: str, queue: str, timeout: float = 3.0) -> tuple[bool, str]:
    from celery import Celery

    nodes = local_nodes(redis_url, hostname, timeout)
    if not nodes:
        return True, "no local worker answered; nothing to drain"
    app = Celery("sketchref-probe", broker=redis_url)
    try:
        app.control.cancel_consumer(queue, destination=nodes, reply=True, timeout=timeout)
    finally:
        app.close()
    return True, f"{', '.join(nodes)} stopped consuming {queue}"


def _queue_name(q: str) -> str:
    import re

    if not re.fullmatch(r"(detect|classify|recommend)(@[A-Za-z0-9][A-Za-z0-9._-]*)?", q):
        raise argparse.ArgumentTypeError(f"not a sketchref queue: {q!r}")
    return q


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.probe", description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=3.0)
    sub = parser.add_subparsers(dest="what", required=True)
    gw = sub.add_parser("gateway")
    gw.add_argument("--url", default="http://127.0.0.1:8000/healthz")
    sub.add_parser("worker")
    sub.add_parser("broker")
    dr = sub.add_parser("drain")
    dr.add_argument("--queue", required=True, type=_queue_name,
                    help="detect, classify, recommend, or a model version's queue such as classify@v2")
    args = parser.parse_args(argv)

    redis_url = CommonSettings().redis_url
    host = socket.gethostname()
    if args.what == "gateway":
        ok, why = check_gateway(args.url, args.timeout)
    elif args.what == "broker":
        ok, why = check_broker(redis_url, args.timeout)
    elif args.what == "worker":
        ok, why = check_worker(redis_url, host, args.timeout)
    else:
        ok, why = drain(redis_url, host, args.queue, args.timeout)
    print(("ok: " if ok else "unhealthy: ") + why, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
