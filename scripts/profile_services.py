"""Where the time goes under load: py-spy flame graphs of the gateway and each worker, CPU of every process.

Starts the stack as ``make bench-throughput`` does, drives it with C concurrent long-polling clients
(this process, asyncio/httpx) for the whole sampling window, and meanwhile runs ``py-spy record``
(``--subprocesses``: a worker's pool children too; ``--idle`` off, so only on-CPU stacks) on the
gateway and the three workers. Redis and SeaweedFS are not Python: their CPU seconds over the window
are measured (psutil) beside everyone else's. Writes ``reports/bench/flame-<name>.svg`` and
``reports/bench/profile.json`` (CPU seconds per process and per job, jobs done).

    python scripts/profile_services.py [--seconds 20] [--clients 8] [--pool threads --concurrency 8]

py-spy needs ptrace rights over the processes (root, or the same user with ptrace allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import bench_throughput as bt  # noqa: E402

NAMES = ("gateway", "detector", "classifier", "recommender", "redis", "s3")


def pids(lines: list[str]) -> dict[str, int]:
    out = {}
    for ln in lines:
        m = re.search(r"\b(\w+) started \(pid (\d+)\)", ln)
        if m and m.group(1) in NAMES:
            out[m.group(1)] = int(m.group(2))
    return out


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (pool children, a wrapper's child)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for q in procs:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def _load(base: str, images: list[bytes], clients: int, seconds: float) -> int:
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = await bt._clients(base, images, clients)
        done += len(images) - len(r["failed"])
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--pool", default="threads")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--wait-ms", type=float, default=10.0)
    ap.add_argument("--doubles", action="store_true")
    ap.add_argument("--no-flames", action="store_true",
                    help="CPU per process only, without py-spy (whose sampling costs CPU of its own)")
    ap.add_argument("--setting", action="append", default=[], metavar="SKETCHREF_X=V",
                    help="a setting for the stack's processes (repeatable), as in bench_throughput.py")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    args = ap.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    images = bt.scenes(args.scenes, args.doubles)
    up, port, lines = bt.start_stack(args, ROOT / ".cache" / "bench-profile")
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    try:
        bt.services_pass(base, images[:4], 2)  # warm
        who = pids(lines)
        recs = {name: subprocess.Popen([spy, "record", "-o", str(args.out / f"flame-{name}.svg"), "--pid", str(pid),
                                        "--duration", str(int(args.seconds)), "--rate", "50", "--subprocesses",
                                        "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for name, pid in who.items()
                if not args.no_flames and name in ("gateway", "detector", "classifier", "recommender")}
        time.sleep(1.0 if recs else 0.0)  # py-spy attached
        cpu0 = {n: cpu_seconds(p) for n, p in who.items()}
        own0 = time.process_time()
        t0 = time.perf_counter()
        jobs = asyncio.run(_load(base, images, args.clients, args.seconds - 2))
        wall = time.perf_counter() - t0
        cpu = {n: round(cpu_seconds(p) - cpu0[n], 2) for n, p in who.items()}
        cpu["client (this process)"] = round(time.process_time() - own0, 2)
        for name, r in recs.items():
            _, err = r.communicate(timeout=args.seconds + 60)
            if r.returncode:
                print(f"py-spy {name}: {err.decode(errors='replace')[-300:]}", file=sys.stderr)
        report = {"clients": args.clients, "jobs": jobs, "wall_s": round(wall, 1),
                  "jobs_per_s": round(jobs / wall, 2), "cpu_s": cpu,
                  "cpu_ms_per_job": {n: round(1000 * c / max(jobs, 1), 1) for n, c in cpu.items()},
                  "stack": {"pool": args.pool, "concurrency": args.concurrency, "batch": args.batch},
                  "models": "doubles" if args.doubles else "trained",
                  "load_average": bt.load_average()}
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
    (args.out / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
