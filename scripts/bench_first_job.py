"""The first job on a fresh stack against warm jobs: does "ready" mean "warm"?

    python scripts/bench_first_job.py --starts 3 --warm 15       # the figure (quiet machine)
    python scripts/bench_first_job.py --starts 1 --warm 3        # tiny: shows it works

Each start launches a fresh ``sketchref up --free-ports`` (real models, its default pool), waits until
all three workers have announced themselves (they do so only after their model is loaded, checked
and warmed up: services/common/serving.py), sends ``examples/three_objects.png`` once (the first job),
then ``--warm`` more times one after the other. It reports each job's stage times (``timings_ms``,
measured in the workers) and the end-to-end time (submit until the long poll answers), and the ratio
of the first job to the median warm job. Prints a table and writes ``reports/ops/first_job.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SKETCH = ROOT / "examples" / "three_objects.png"
KEYS = ("detect", "classify", "recommend", "e2e")


def one_job(c: httpx.Client, data: bytes) -> dict:
    t0 = time.perf_counter()
    done = c.post("/v1/jobs", files={"image": ("s.png", data, "image/png")}, headers={"Prefer": "wait=30"}).json()
    for _ in range(7):  # a very busy machine: keep waiting (up to 3.5 min)
        if done["status"] in ("succeeded", "failed"):
            break
        done = c.get(f"/v1/jobs/{done['id']}", params={"wait": 30}).json()
    e2e = (time.perf_counter() - t0) * 1000
    if done["status"] != "succeeded":
        raise RuntimeError(f"job {done['id']} {done['status']}: {done.get('error')}")
    return {**{k: done["timings_ms"][k] for k in KEYS[:3]}, "e2e": round(e2e, 1), "models": done.get("models")}


def one_start(warm: int, data: bytes, workdir: Path) -> dict:
    from services.common.processes import free_port, port_open

    port = free_port()
    log = open(workdir / f"up-{port}.log", "w")  # noqa: SIM115
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--free-ports", "--port", str(port),
                           "--data-dir", str(workdir / f"up-{port}")], cwd=ROOT, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        t0, deadline = time.monotonic(), time.monotonic() + 300
        with httpx.Client(base_url=url, timeout=60) as c:
            while not port_open(port) or len(c.get("/v1/version").json()["workers"]) < 3:
                if up.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sketchref up did not come up; see {log.name}")
                time.sleep(0.2)
            ready_s = time.monotonic() - t0
            first = one_job(c, data)
            rest = [one_job(c, data) for _ in range(warm)]
        return {"ready_s": round(ready_s, 1), "first": first, "warm": rest}
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        log.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--warm", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "ops" / "first_job.json")
    args = ap.parse_args(argv)
    work = ROOT / ".cache" / "bench-first-job"
    work.mkdir(parents=True, exist_ok=True)
    data = SKETCH.read_bytes()
    starts = [one_start(args.warm, data, work) for _ in range(args.starts)]
    rows = {}
    for k in KEYS:
        firsts = [s["first"][k] for s in starts]
        warm = statistics.median(j[k] for s in starts for j in s["warm"])
        rows[k] = {"first_median_ms": round(statistics.median(firsts), 1), "first_max_ms": round(max(firsts), 1),
                   "warm_median_ms": round(warm, 1), "ratio": round(statistics.median(firsts) / warm, 2)}
    print(f"{'':<10} {'first (median)':>15} {'first (max)':>12} {'warm median':>12} {'ratio':>6}")
    for k, r in rows.items():
        print(f"{k:<10} {r['first_median_ms']:>15} {r['first_max_ms']:>12} {r['warm_median_ms']:>12} {r['ratio']:>6}")
    print(f"ready after {[s['ready_s'] for s in starts]} s; models {starts[0]['first']['models']}")
    report = {"starts": args.starts, "warm_per_start": args.warm, "summary": rows, "runs": starts,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
              "command": "python scripts/bench_first_job.py " + " ".join(argv or sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
