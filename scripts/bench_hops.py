"""The floor under the services' single-job overhead: three queue hops with no stage work at all.

Starts a Redis of its own and three Celery workers built by the services' own ``make_celery`` (same
broker options, leases, acks-late, prefetch; ``--pool threads --concurrency 8`` as ``sketchref up``),
one on each stage queue, each running a relay task that only sends the message on (the last one
pushes the elapsed time to a Redis list). It then times one message at a time through the three
queues, carrying an inline payload of 0, 8 and 32 KB (a job's payloads are a few KB to a few tens of
KB: services/common/inline.py). Compare with ``make bench-throughput``'s single-job overhead: what
the relays take is what queueing itself costs, the rest is the gateway and the stages' bookkeeping.

    python scripts/bench_hops.py [--runs 60]

Prints a table and writes ``reports/bench/hops.json``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.processes import Proc, free_port, port_open, redis_command, wait_until  # noqa: E402

STAGES = ("detect", "classify", "recommend")
DONE = "bench:hops:done"
PAYLOAD_KB = (0, 8, 32)


def relay_app(redis_url: str):
    """The services' Celery app with one relay task per stage queue instead of the stages."""
    import redis

    from services.common.queue import make_celery
    from services.common.settings import CommonSettings

    app = make_celery(CommonSettings(redis_url=redis_url, retention_interval_s=0))
    r = redis.Redis.from_url(redis_url)
    for i, stage in enumerate(STAGES):
        nxt = STAGES[i + 1] if i + 1 < len(STAGES) else None

        def relay(t0: float, payload: str, nxt: str | None = nxt) -> None:
            if nxt is None:
                r.rpush(DONE, repr(time.time() - t0))
            else:
                app.send_task(f"bench.{nxt}", args=[t0, payload], queue=nxt, routing_key=nxt)

        app.task(name=f"bench.{stage}")(relay)
    return app


def measure(redis_url: str, runs: int) -> dict:
    import redis

    app, r = relay_app(redis_url), redis.Redis.from_url(redis_url)
    out = {}
    for kb in PAYLOAD_KB:
        payload = base64.b64encode(os.urandom(kb * 768)).decode()  # kb KB once base64-encoded
        ms = []
        for i in range(runs + 5):
            r.delete(DONE)
            app.send_task("bench.detect", args=[time.time(), payload], queue="detect", routing_key="detect")
            got = r.blpop(DONE, 30)
            if got is None:
                raise RuntimeError("a message did not come through the three queues in 30 s")
            if i >= 5:  # the first few warm the connections
                ms.append(float(got[1]) * 1000)
            time.sleep(0.05)
        p50 = statistics.median(ms)
        out[f"{kb} KB"] = {"p50_ms": round(p50, 2), "per_hop_ms": round(p50 / len(STAGES), 2),
                           "p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 2), "runs": len(ms)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "hops.json")
    ap.add_argument("--worker", choices=STAGES, help=argparse.SUPPRESS)  # a relay worker (started by this script)
    ap.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        relay_app(args.redis_url).worker_main(["worker", "-Q", args.worker, "-P", "threads", "-c", "8", "-l", "warning",
                                               "-n", f"{args.worker}-relay@%h", "--without-gossip",
                                               "--without-mingle", "--without-heartbeat"])
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-hops-"))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    procs = [Proc("redis", redis_command(port, tmp / "redis", appendonly=False), echo=False)]
    try:
        wait_until(lambda: port_open(port), 20, "redis-server", procs[0])
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
        env["PYTHONPATH"] = str(ROOT)
        script = str(Path(__file__).resolve())
        for stage in STAGES:
            procs.append(Proc(stage, [sys.executable, script, "--worker", stage, "--redis-url", url], env=env,
                              cwd=ROOT, echo=False))
        time.sleep(1)
        wait_until(lambda: len(_workers(url)) >= len(STAGES), 60, "the relay workers")
        results = measure(url, args.runs)
    finally:
        for p in reversed(procs):
            p.stop()
    print(f"{'payload':>8} {'p50 ms':>8} {'per hop':>8} {'p90 ms':>8}  runs")
    for name, v in results.items():
        print(f"{name:>8} {v['p50_ms']:8.2f} {v['per_hop_ms']:8.2f} {v['p90_ms']:8.2f}  {v['runs']}")
    report = {"hops": len(STAGES), "pool": "threads", "concurrency": 8, "results": results,
              "load_average": list(os.getloadavg()),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


def _workers(url: str) -> list[str]:
    """The relay workers that answer a ping."""
    app = relay_app(url)
    try:
        return [name for reply in (app.control.ping(timeout=0.5) or []) for name in reply if "relay@" in name]
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
