"""``make chaos``: faults against a real ``sketchref up``, measured; prints a table, writes JSON.

    python scripts/chaos.py [--doubles] [--stage-delay 0.3] [--jobs 50] [--out reports/chaos/chaos.json]

Starts ``sketchref up --free-ports`` (its own data dir) and runs, in turn:

1. **kill -9 Redis** with 25 jobs (some finished, some running, some queued): ``up`` restarts it from
   its append-only file; counts jobs lost (404 or failed) and the seconds until all 25 finished.
2. **kill -9 of each worker's main process, of its pool child, and of both at once** (its process
   group: a crashed container), each time with ``--jobs`` jobs in flight and one of them held by that
   worker: successes out of ``--jobs``, and the seconds from the kill until the interrupted job left
   that stage. A lone main process's pool child may finish its task before ``up`` reaps it; with the
   whole group killed the message comes back only through its lapsed lease (redelivery).
3. **Redis frozen, then S3 frozen** (SIGSTOP for a few seconds, then SIGCONT): status and latency of a
   ``POST /v1/jobs``, and latency of ``/readyz``; then that the stack works again.
4. **hostile uploads and strokes** (scripts/hostile_bench.py against this stack): the gateway's RSS
   growth under 8 concurrent 4000² RGBA PNGs, and the slowest ``/healthz`` answer while 3 requests of
   100k-point strokes are checked and drawn.

The gateway's peak RSS over the whole run is reported too. Timings depend on the machine: note in
the JSON whether it was busy (``--note``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from services.common.processes import _die_with_parent, free_port, wait_until  # noqa: E402

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
STAGE_OF = {"detector": "detect", "classifier": "classify", "recommender": "recommend"}
DONE = ("succeeded", "failed")


class Up:
    """``sketchref up`` in a child process; its children's pids from its log lines."""

    def __init__(self, doubles: bool, stage_delay: float, data_dir: Path):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
        if doubles:
            from tests.services.doubles import DOUBLES_ENV

            env.update(DOUBLES_ENV)
        if stage_delay:  # the doubles only: each stage takes this long (recommend: per object, of 3)
            env.update(SKETCHREF_TEST_DETECT_DELAY=str(stage_delay), SKETCHREF_TEST_CLASSIFY_DELAY=str(stage_delay),
                       SKETCHREF_TEST_RECOMMEND_DELAY=str(stage_delay / 3))
        env.update(SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="0", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "up", "--port", str(self.port),
                                      "--free-ports", "--data-dir", str(data_dir), "--log-dir", str(data_dir / "logs"),
                                      "--pool", "prefork", "--concurrency", "1"],  # it kills pool children too
                                     cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=_die_with_parent)  # up (and so its children) die with us
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: any("ready: http" in ln for ln in self.lines), 600, "sketchref up")

    def redis(self):
        import redis

        port = next(int(m.group(1)) for ln in self.lines if (m := re.search(r"\(redis :(\d+)", ln)))
        return redis.Redis(port=port, socket_timeout=5)

    def pid(self, name: str) -> int:
        pids = [int(m.group(1)) for ln in list(self.lines) if (m := re.search(rf"{name} started \(pid (\d+)\)", ln))]
        return pids[-1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def submit(c: httpx.Client, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = c.post("/v1/jobs", files={"image": ("s.png", SKETCH)})
        r.raise_for_status()
        out.append(r.json()["id"])
    return out


def job(c: httpx.Client, job_id: str) -> dict:
    try:
        r = c.get(f"/v1/jobs/{job_id}")
    except httpx.HTTPError as exc:
        return {"status": f"error {type(exc).__name__}", "stage": ""}
    return r.json() if r.status_code == 200 else {"status": f"http {r.status_code}", "stage": ""}


def finish(c: httpx.Client, ids: list[str], timeout: float = 600) -> list[dict]:
    deadline, out = time.monotonic() + timeout, []
    for i in ids:
        while True:
            j = job(c, i)
            if j["status"] in DONE or j["status"].startswith("http 404") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        out.append(j)
    return out


def redis_kill(up: Up, c: httpx.Client) -> dict:
    first = submit(c, 6)
    finish(c, first)
    rest = submit(c, 19)
    states = [job(c, i) for i in first + rest]
    before = {s: sum(j["status"] == s for j in states) for s in ("succeeded", "running", "queued")}
    old = up.pid("redis")
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: up.pid("redis") != old, 120, "redis restarted")
    wait_until(lambda: c.get("/readyz").status_code == 200, 120, "ready again")
    back_s = time.monotonic() - t0
    jobs = finish(c, first + rest)
    lost = sum(j["status"] != "succeeded" for j in jobs)
    return {"scenario": "kill -9 Redis", "jobs": 25, "before_kill": before, "lost": lost,
            "redis_back_s": round(back_s, 2), "all_finished_s": round(time.monotonic() - t0, 2)}


def held(r, stage: str) -> set[str]:
    """Job ids whose ``stage`` message a worker holds now (kombu's ``unacked`` hash in Redis)."""
    import base64

    out = set()
    for raw in r.hvals("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        if routing_key != stage:
            continue
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        if args:
            out.add(args[0])
    return out


def worker_kill(up: Up, c: httpx.Client, kind: str, target: str, n: int) -> dict:
    """Kill ``kind``'s main process or pool child while it holds a job; time until that job moves on."""
    stage = STAGE_OF[kind]
    r = up.redis()
    ids = submit(c, n)
    main = up.pid(kind)
    children = psutil.Process(main).children()
    pid = main if target == "main" or not children else children[0].pid

    def at_stage(job_id: str) -> bool:  # read from Redis directly: milliseconds, not an HTTP round trip
        raw = r.get(f"sketchref:job:{job_id}")
        return bool(raw) and json.loads(raw)["stage"] == stage

    victims: set[str] = set()
    deadline = time.monotonic() + 120
    while not victims and time.monotonic() < deadline:
        victims = {v for v in held(r, stage) & set(ids) if at_stage(v)}
        if not victims:
            time.sleep(0.01)
    t0 = time.monotonic()
    if target == "group":
        os.killpg(main, signal.SIGKILL)  # the main process and its pool children together
    else:
        os.kill(pid, signal.SIGKILL)
    victims = {v for v in victims if at_stage(v)}  # still there after the kill: really cut off
    recovered = {}
    while len(recovered) < len(victims) and time.monotonic() - t0 < 300:
        for v in victims - set(recovered):
            j = job(c, v)
            if j["stage"] != stage or j["status"] in DONE:
                recovered[v] = time.monotonic() - t0
        time.sleep(0.1)
    jobs = finish(c, ids)
    what = {"main": "main process", "child": "pool child", "group": "main + pool child"}[target]
    return {"scenario": f"kill -9 {kind} {what}", "jobs": n,
            "succeeded": sum(j["status"] == "succeeded" for j in jobs),
            "interrupted_jobs": len(victims),
            "interrupted_job_recovered_s": round(max(recovered.values()), 2) if recovered else None}


def freeze(up: Up, c: httpx.Client, name: str, hold_s: float = 8.0) -> dict:
    pid = up.pid(name)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        try:
            status = c.post("/v1/jobs", files={"image": ("s.png", SKETCH)}, timeout=60).status_code
        except httpx.HTTPError as exc:
            status = f"error {type(exc).__name__}"
        post_s = time.monotonic() - t0
        t0 = time.monotonic()
        try:
            ready = c.get("/readyz", timeout=60).status_code
        except httpx.HTTPError as exc:
            ready = f"error {type(exc).__name__}"
        ready_s = time.monotonic() - t0
        time.sleep(max(0.0, hold_s - post_s - ready_s))
    finally:
        os.kill(pid, signal.SIGCONT)
    after = finish(c, submit(c, 1), timeout=300)[0]["status"]
    return {"scenario": f"{'Redis' if name == 'redis' else 'S3'} frozen (SIGSTOP)", "post_status": status,
            "post_s": round(post_s, 2), "readyz_status": ready, "readyz_s": round(ready_s, 2),
            "job_after_thaw": after}


def hostile(up: Up) -> dict:
    path = ROOT / "scripts" / "hostile_bench.py"
    if not path.exists():
        return {"scenario": "gateway memory, hostile images", "skipped":
                "scripts/hostile_bench.py is not in this tree (the gateway hardening adds it); not measured"}
    spec = importlib.util.spec_from_file_location("hostile_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rep = mod.main(["--url", up.url, "--pid", str(up.pid("gateway"))])
    u, s, x = rep["uploads"], rep["strokes"], rep["strokes_issue_case"]
    return {"scenario": "hostile uploads and strokes", "pngs": f"{u['uploads']} x {u['png_bytes'] // 1024} KB "
            f"{u['side']}^2 RGBA", "gateway_rss_growth_mb": u["peak_growth_mb"],
            "upload_answers": sorted(set(u["statuses"])), "strokes": f"{s['requests']} x {s['points']} points",
            "healthz_max_s": max(s["healthz_max_s"], x["healthz_max_s"]),
            "strokes_answers": sorted({a[0] if isinstance(a, (list, tuple)) else a for a in s["answers"] + x["answers"]})}


class PeakRss(threading.Thread):
    def __init__(self, up: Up):
        super().__init__(daemon=True)
        self.up, self.peak, self.stop_event = up, 0, threading.Event()

    def run(self):
        while not self.stop_event.wait(0.2):
            try:
                self.peak = max(self.peak, psutil.Process(self.up.pid("gateway")).memory_info().rss)
            except (psutil.Error, IndexError):
                pass


def table(rows: list[dict]) -> str:
    out = [f"{'scenario':<38} {'result':<60}"]
    for r in rows:
        rest = {k: v for k, v in r.items() if k != "scenario"}
        out.append(f"{r['scenario']:<38} " + ", ".join(f"{k}={v}" for k, v in rest.items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="faults against sketchref up, measured")
    ap.add_argument("--doubles", action="store_true", help="the tests' model stand-ins (plumbing only)")
    ap.add_argument("--stage-delay", type=float, default=0.0, help="with --doubles: seconds per stage task")
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--workers", default="detector,classifier,recommender")
    ap.add_argument("--only", default="redis,workers,freeze,hostile", help="which scenario groups to run")
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".cache" / "chaos")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "chaos" / "chaos.json")
    ap.add_argument("--note", default="", help="e.g. 'shared machine, busy': stored in the JSON")
    args = ap.parse_args(argv)
    import shutil

    shutil.rmtree(args.data_dir, ignore_errors=True)
    started = time.time()
    up = Up(args.doubles, args.stage_delay, args.data_dir)
    rss = PeakRss(up)
    rss.start()
    rows: list[dict] = []
    try:
        with httpx.Client(base_url=up.url, timeout=30) as c:
            only = set(args.only.split(","))
            if "redis" in only:
                rows.append(redis_kill(up, c))
                print(table(rows[-1:]), flush=True)
            for kind in [k for k in args.workers.split(",") if k and "workers" in only]:
                for target in ("main", "child", "group"):
                    rows.append(worker_kill(up, c, kind, target, args.jobs))
                    print(table(rows[-1:]), flush=True)
            for name in ("redis", "s3") if "freeze" in only else ():
                rows.append(freeze(up, c, name))
                print(table(rows[-1:]), flush=True)
        if "hostile" in only:
            rows.append(hostile(up))
    finally:
        rss.stop_event.set()
        up.stop()
    rows.append({"scenario": "gateway peak RSS (whole run)", "mb": round(rss.peak / 2**20, 1)})
    print("\n" + table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "rows": rows, "doubles": args.doubles, "stage_delay": args.stage_delay, "jobs": args.jobs,
        "seconds": round(time.time() - started, 1), "note": args.note,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": "python scripts/chaos.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
