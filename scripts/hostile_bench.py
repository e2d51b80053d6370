"""Memory and responsiveness of the gateway under hostile load; prints a table and writes JSON.

Two measurements (issue #15's "Must show"):

1. ``uploads``: N concurrent uploads of a ~60 KB 4000x4000 RGBA PNG (64 MB each once decoded). The
   gateway process's peak RSS growth over its idle RSS (sampled every 10 ms with psutil), what it
   keeps once idle again, and the answers (202, or 503 ``server_busy`` when the decode budget is
   used up).
2. ``strokes``: M concurrent strokes requests of 100k points on a 4000x3999 canvas (a random walk,
   stroke width 8: accepted and drawn in the render process pool), while ``/healthz`` is asked in a
   loop: its latency (max, p50, p99). Also the issue's exact case (stroke width 64), which is now
   refused before rendering (413).

3. ``outages`` (own stack only): Redis, then SeaweedFS frozen with SIGSTOP; how fast and with what
   ``POST /v1/jobs`` and ``/readyz`` answer (the issue asks 3 s and 2 s).

Against a running gateway (``--url`` and ``--pid``), or, by default, a stack of its own on free
loopback ports (redis-server, SeaweedFS, the gateway; no workers: the jobs just wait). Importable:
``main(argv)`` returns the report dict (``make chaos`` calls it).

    python scripts/hostile_bench.py [--url http://127.0.0.1:8000 --pid 1234] [--out reports/hostile_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def rgba_png(side: int = 4000) -> bytes:
    from PIL import Image

    from services.core.imaging import encode_image

    return encode_image(Image.new("RGBA", (side, side), (255, 255, 255, 0)), compress_level=9)


def walk_strokes(n: int, side: int, seed: int, stroke_width: float) -> dict:
    rng = random.Random(seed)
    x = y = side / 2
    xs, ys = [], []
    for _ in range(n):
        x = min(max(x + rng.uniform(-3, 3), 0), side - 1)
        y = min(max(y + rng.uniform(-3, 3), 0), side - 2)
        xs.append(round(x, 1))
        ys.append(round(y, 1))
    return {"strokes": [[xs, ys]], "width": side, "height": side - 1, "stroke_width": stroke_width}


class RssSampler:
    """Peak RSS of one process, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.01):
        import psutil

        self.proc, self.every_s = psutil.Process(pid), every_s
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except Exception:
                return
            time.sleep(self.every_s)

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def _concurrently(fn, args_list) -> list:
    out = [None] * len(args_list)

    def run(i, a):
        try:
            out[i] = fn(*a)
        except Exception as exc:  # a hang or a reset: reported, not raised
            out[i] = type(exc).__name__

    ts = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return out


def bench_uploads(url: str, pid: int, n: int, side: int) -> dict:
    import httpx

    data = rgba_png(side)
    time.sleep(1.0)
    with RssSampler(pid) as s:
        idle = s.rss()
        s.peak = idle
        t0 = time.perf_counter()
        statuses = _concurrently(lambda: httpx.post(url + "/v1/jobs", files={"image": ("x.png", data, "image/png")},
                                                    timeout=120).status_code, [()] * n)
        wall = time.perf_counter() - t0
        time.sleep(3.0)
        after = s.rss()
    mb = 1024 * 1024
    return {"uploads": n, "png_bytes": len(data), "side": side, "statuses": statuses, "wall_s": round(wall, 2),
            "idle_rss_mb": round(idle / mb, 1), "peak_rss_mb": round(s.peak / mb, 1),
            "peak_growth_mb": round((s.peak - idle) / mb, 1), "rss_after_mb": round(after / mb, 1)}


def bench_strokes(url: str, n: int, points: int, stroke_width: float) -> dict:
    import httpx

    bodies = [walk_strokes(points, 4000, seed, stroke_width) for seed in range(n)]
    latencies: list[float] = []
    done = threading.Event()

    def poll():
        with httpx.Client(base_url=url, timeout=30) as c:
            while not done.is_set():
                t = time.perf_counter()
                try:
                    c.get("/healthz")
                    latencies.append(time.perf_counter() - t)
                except Exception:
                    latencies.append(float("inf"))
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t0 = time.perf_counter()
    answers = _concurrently(lambda b: (lambda r: (r.status_code, round(time.perf_counter() - t0, 2)))(
        httpx.post(url + "/v1/jobs", json=b, timeout=300)), [(b,) for b in bodies])
    done.set()
    poller.join()
    lat = sorted(latencies) or [float("nan")]
    return {"requests": n, "points": points, "stroke_width": stroke_width, "answers": answers,
            "healthz_samples": len(lat), "healthz_max_s": round(lat[-1], 3),
            "healthz_p50_s": round(statistics.median(lat), 4),
            "healthz_p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3)}


def bench_outages(url: str, procs: dict) -> dict:
    """Freeze (SIGSTOP) this script's own Redis, then its SeaweedFS: how fast POST /v1/jobs and
    /readyz answer, and with what."""
    import signal

    import httpx

    from services.common.processes import wait_until

    small = {"strokes": [[[10, 60, 110], [10, 110, 10]]], "width": 128, "height": 128}
    out = {}
    for name, proc in procs.items():
        os.killpg(proc.pid, signal.SIGSTOP)
        try:
            row = {}
            for what, call in (("post", lambda: httpx.post(url + "/v1/jobs", json=small, timeout=60)),
                               ("readyz", lambda: httpx.get(url + "/readyz", timeout=60))):
                t = time.perf_counter()
                r = call()
                code = r.json().get("error", {}).get("code") if r.status_code >= 400 else ""
                row[what] = {"status": r.status_code, "code": code, "seconds": round(time.perf_counter() - t, 3)}
            out[name] = row
        finally:
            os.killpg(proc.pid, signal.SIGCONT)
        wait_until(lambda: httpx.get(url + "/readyz", timeout=10).status_code == 200, 60, f"{name} back")
    return out


def own_stack(stack: ExitStack, tmp: Path) -> tuple[str, int, dict]:
    """redis-server, SeaweedFS and a gateway on free loopback ports (stopped when ``stack`` closes)."""
    import httpx

    from services.common.processes import (
        Proc,
        free_port,
        free_weed_ports,
        port_open,
        python_command,
        redis_command,
        wait_until,
        weed_command,
        weed_env,
    )

    key = "bench"
    rport, sport, gport = free_port(), free_port(), free_port()
    r = Proc("redis", redis_command(rport, tmp / "redis"), echo=False)
    stack.callback(r.stop)
    w = Proc("s3", weed_command(sport, tmp / "weed", free_weed_ports()), env=weed_env(key, key), echo=False)
    stack.callback(w.stop)
    wait_until(lambda: port_open(rport), 20, "redis-server", r)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
    env.update({"SKETCHREF_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
                "SKETCHREF_S3_ENDPOINT_URL": f"http://127.0.0.1:{sport}", "SKETCHREF_S3_BUCKET": "bench",
                "SKETCHREF_S3_ACCESS_KEY": key, "SKETCHREF_S3_SECRET_KEY": key,
                "SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE": "0", "SKETCHREF_GATEWAY_REQUIRE_WORKERS": "0",
                "SKETCHREF_GATEWAY_MAX_QUEUE_DEPTH": "0", "PYTHONPATH": str(ROOT)})

    def bucket():
        from services.common.settings import CommonSettings
        from services.common.storage import S3Storage

        S3Storage.from_settings(CommonSettings(s3_endpoint_url=env["SKETCHREF_S3_ENDPOINT_URL"], s3_bucket="bench",
                                               s3_access_key=key, s3_secret_key=key)).ensure_bucket()
        return True

    wait_until(bucket, 60, "SeaweedFS", w)
    gw = Proc("gateway", python_command("gateway", "--port", str(gport), "--log-level", "warning"), env=env,
              cwd=ROOT, echo=False)
    stack.callback(gw.stop)
    url = f"http://127.0.0.1:{gport}"
    wait_until(lambda: httpx.get(url + "/healthz", timeout=2).status_code == 200, 60, "gateway", gw)
    return url, gw.pid, {"redis": r, "s3": w}


def print_table(report: dict) -> None:
    u, s, x = report["uploads"], report["strokes"], report["strokes_issue_case"]
    rows = [
        ("uploads", f"{u['uploads']} x {u['png_bytes'] // 1024} KB {u['side']}^2 RGBA PNG"),
        ("  answers", ", ".join(f"{k} x{v}" for k, v in _counts(u["statuses"]).items())),
        ("  gateway RSS idle / peak / growth", f"{u['idle_rss_mb']} / {u['peak_rss_mb']} / {u['peak_growth_mb']} MB"),
        ("  gateway RSS 3 s after", f"{u['rss_after_mb']} MB"),
        ("strokes", f"{s['requests']} x {s['points']} points, width {s['stroke_width']}, 4000x3999"),
        ("  answers (status, s)", str(s["answers"])),
        ("  /healthz max / p50 / p99", f"{s['healthz_max_s']} / {s['healthz_p50_s']} / {s['healthz_p99_s']} s "
                                       f"({s['healthz_samples']} samples)"),
        ("issue's case (width 64)", str(x["answers"])),
        ("  /healthz max", f"{x['healthz_max_s']} s"),
    ]
    for dep, row in report.get("outages", {}).items():
        for what, r in row.items():
            rows.append((f"{dep} frozen: {what}", f"{r['status']} {r['code']} in {r['seconds']} s"))
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b}")


def _counts(xs) -> dict:
    out: dict = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running gateway (default: start a stack of its own)")
    ap.add_argument("--pid", type=int, help="the running gateway's process id (with --url)")
    ap.add_argument("--uploads", type=int, default=8)
    ap.add_argument("--side", type=int, default=4000)
    ap.add_argument("--strokes", type=int, default=3)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--out", default=str(ROOT / "reports" / "hostile_bench.json"))
    args = ap.parse_args(argv)
    import tempfile

    with ExitStack() as stack:
        procs = {}
        if args.url:
            if not args.pid:
                ap.error("--pid is required with --url")
            url, pid = args.url.rstrip("/"), args.pid
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hostile-bench-")))
            url, pid, procs = own_stack(stack, tmp)
        report = {
            "uploads": bench_uploads(url, pid, args.uploads, args.side),
            "strokes": bench_strokes(url, args.strokes, args.points, 8.0),
            "strokes_issue_case": bench_strokes(url, args.strokes, args.points, 64.0),
            # frozen dependencies: only with a stack of its own (never freezes what it did not start)
            "outages": bench_outages(url, procs) if procs else {},
            "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    print_table(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
