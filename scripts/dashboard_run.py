"""A short real local run for the dashboard picture: ``sketchref up --prometheus`` under a little load.

    python scripts/dashboard_run.py --seconds 180 --out docs/img/dashboard.png

Starts the fake Unsplash API (tests/fakes/unsplash.py, the one fake the project allows) and
``sketchref up --free-ports --prometheus`` with the real models, then sends jobs from 3 threads for
``--seconds``: test-split Quick, Draw! drawings as strokes JSON (varied labels, so the reference cache
has misses and hits), faster than the gateway's per-client limit (60/min) so some are refused with 429.
Then :func:`render_dashboard.render` draws the dashboard's panels from that Prometheus, and everything
is stopped. Uses 2 CPU cores for the run: not a benchmark.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _payloads(n: int, seed: int = 0) -> list[dict]:
    from training.data.quickdraw import load_drawings

    rng = random.Random(seed)
    drawings = load_drawings("simplified", split="test")
    out = []
    for d in rng.sample(drawings, min(n, len(drawings))):
        strokes = [[[x * 2 + 20 for x in s[0]], [y * 2 + 20 for y in s[1]]] for s in d.strokes]
        out.append({"strokes": strokes, "width": 552, "height": 552, "references": 3})
    return out


def main(argv: list[str] | None = None) -> int:
    from render_dashboard import render

    from services.common.processes import free_port, port_open
    from tests.fakes.unsplash import KEY, FakeUnsplash

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".cache" / "dashboard-run")
    args = ap.parse_args(argv)

    fake = FakeUnsplash(limit=100_000, latency_s=0.05).start()
    port, prom = free_port(), free_port()
    env = {**os.environ, "SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY": KEY, "SKETCHREF_RECOMMENDER_UNSPLASH_API_URL": fake.url,
           "PYTHONPATH": str(ROOT)}
    log = open(args.data_dir.with_suffix(".log"), "w")  # noqa: SIM115
    up = subprocess.Popen([sys.executable, "-m", "cli", "up", "--free-ports", "--port", str(port),
                           "--prometheus", "--prometheus-port", str(prom), "--data-dir", str(args.data_dir)],
                          env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    sent: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 180
        while not (port_open(port) and port_open(prom)) or len(httpx.get(url + "/v1/version").json()["workers"]) < 3:
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sketchref up did not come up; see {log.name}")
            time.sleep(1)
        t0 = time.time()
        payloads = _payloads(400)
        stop = time.monotonic() + args.seconds
        lock = threading.Lock()

        def client(i: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                k = i
                while time.monotonic() < stop:
                    r = c.post("/v1/jobs", json=payloads[k % len(payloads)])
                    k += 3
                    with lock:
                        sent[r.status_code] = sent.get(r.status_code, 0) + 1
                    if r.status_code == 202:
                        c.get(f"/v1/jobs/{r.json()['id']}", params={"wait": 20})
                    time.sleep(0.6)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(12)  # two more scrapes
        print(f"sent: {sent}; Unsplash searches: {len(fake.search_calls)}")
        summary = render(f"http://127.0.0.1:{prom}", args.out, (time.time() - t0) / 60 + 0.5)
        for title, n in summary.items():
            print(f"{title:<36} {n} series")
        print(f"wrote {args.out}")
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        fake.stop()
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
