"""p50 end-to-end latency of one sketch: through the services vs in-process, side by side.

Starts the whole stack with ``sketchref up --free-ports`` (redis-server, SeaweedFS, three workers,
uvicorn), and alternates, run by run: the sketch through ``Recognizer`` in this process, then the same
sketch submitted to the services and long-polled (``GET /v1/jobs/{id}?wait=``) until it succeeded
(submit -> succeeded, as a phone sees it). Interleaving gives both modes the same machine. Prints a
table with the ratio of the medians and its bootstrap 95% interval (over the run pairs), and writes
``reports/bench/services.json``. Target: services at most 1.5x in-process.

    python scripts/bench_services.py [--runs 60] [--image examples/three_objects.png] [--doubles]

``--doubles`` uses the tests' model stand-ins (plumbing overhead only; the ratio then means little).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.processes import free_port, wait_until  # noqa: E402

TARGET = 1.5
SETTLE_S = 0.2  # pause before each measurement: the previous one's trailing work (acks, logs) is over


def ratio_ci(services: list[float], local: list[float], reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of p50(services) / p50(in-process), resampling the interleaved run pairs."""
    import random

    rng = random.Random(seed)
    n = len(services)
    ratios = []
    for _ in range(reps):
        idx = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(services[i] for i in idx) / statistics.median(local[i] for i in idx))
    ratios.sort()
    return ratios[int(0.025 * reps)], ratios[int(0.975 * reps) - 1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def recognizer(doubles: bool):
    from services.core.pipeline import Recognizer
    from services.embedded import load_recognizer

    if doubles:
        from tests.services import doubles as d

        return Recognizer(d.load_detector(), d.load_classifier(), d.load_recommender())
    return load_recognizer()


def start_stack(doubles: bool, tmp: Path, extra: list[str] | None = None, settings: dict[str, str] | None = None
                ) -> tuple[subprocess.Popen, int, list[str]]:
    """``sketchref up --free-ports`` (plus ``extra`` arguments, e.g. ``--pool threads``), ready.
    ``settings``: ``SKETCHREF_*`` variables for the stack (the caller's own are not passed on)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="0", **(settings or {}))
    if doubles:
        from tests.services.doubles import DOUBLES_ENV

        env.update(DOUBLES_ENV)
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(port), "--free-ports",
                           "--data-dir", str(tmp), *(extra or [])], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(up.stdout), daemon=True).start()
    wait_until(lambda: any("ready: http" in ln for ln in lines), 180, "sketchref up")
    return up, port, lines


def one_job(client, data: bytes) -> float:
    """Submit and wait in one request (``Prefer: wait``), long-polling if it did not finish; milliseconds."""
    t0 = time.perf_counter()
    job = client.post("/v1/jobs", files={"image": ("s.png", data, "image/png")},
                      headers={"Prefer": "wait=30"}).json()
    while job["status"] not in ("succeeded", "failed"):
        job = client.get(f"/v1/jobs/{job['id']}", params={"wait": 30}).json()
    ms = (time.perf_counter() - t0) * 1000
    if job["status"] != "succeeded":
        raise RuntimeError(f"job failed: {job['error']}")
    return ms


def one_local(rec, data: bytes) -> float:
    t0 = time.perf_counter()
    rec.recognize(data)
    return (time.perf_counter() - t0) * 1000


def measure(data: bytes, runs: int, warmup: int, doubles: bool, tmp: Path) -> dict[str, list[float]]:
    """Both modes, interleaved run by run, so that both see the same machine (load, clock, caches)."""
    import httpx

    up, port, lines = start_stack(doubles, tmp)
    out: dict[str, list[float]] = {"in-process": [], "services": []}
    try:
        rec = recognizer(doubles)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for i in range(warmup + runs):
                time.sleep(SETTLE_S)
                local = one_local(rec, data)
                time.sleep(SETTLE_S)
                svc = one_job(c, data)
                if i >= warmup:
                    out["in-process"].append(local)
                    out["services"].append(svc)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
        if up.returncode:
            print("\n".join(ln.rstrip() for ln in lines[-30:] if not re.search(r"\bINFO\b", ln)), file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=ROOT / "examples" / "three_objects.png")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--doubles", action="store_true", help="model stand-ins instead of the trained models")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "services.json")
    args = ap.parse_args(argv)
    data = args.image.read_bytes()
    tmp = ROOT / ".cache" / "bench-services"
    rows = measure(data, args.runs, args.warmup, args.doubles, tmp)
    ratio = statistics.median(rows["services"]) / statistics.median(rows["in-process"])
    lo, hi = ratio_ci(rows["services"], rows["in-process"])
    print(f"{'mode':<12} {'p50 ms':>9} {'p90 ms':>9} {'min ms':>9} {'runs':>5}")
    for name, xs in rows.items():
        print(f"{name:<12} {statistics.median(xs):9.1f} {pct(xs, 0.9):9.1f} {min(xs):9.1f} {len(xs):5d}")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"services / in-process p50: {ratio:.2f}x (95% CI {lo:.2f}-{hi:.2f}; {verdict} the {TARGET}x target)")
    report = {
        "image": str(args.image.relative_to(ROOT) if args.image.is_relative_to(ROOT) else args.image),
        "models": "doubles" if args.doubles else "trained",
        "runs": args.runs, "warmup": args.warmup, "order": "interleaved", "client": "long poll",
        "p50_ms": {k: round(statistics.median(v), 2) for k, v in rows.items()},
        "p90_ms": {k: round(pct(v, 0.9), 2) for k, v in rows.items()},
        "samples_ms": {k: [round(x, 2) for x in v] for k, v in rows.items()},
        "ratio_p50": round(ratio, 3), "ratio_p50_ci95": [round(lo, 3), round(hi, 3)],
        "target_ratio": TARGET, "meets_target": ratio <= TARGET,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
