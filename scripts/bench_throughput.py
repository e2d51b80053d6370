"""Throughput: images/s in-process (1 and 2 processes) vs jobs/s through the services at 1-16 clients.

Renders N unseen 3-object scenes (test-split drawings, 512×512, seeds 0..N-1), then, round by round
(interleaved, so every mode sees the same machine):

- in-process, 1 process: ``Recognizer.recognize`` one image after the other (unbatched);
- in-process, 2 processes: the same images split over two warm processes (a ``multiprocessing``
  pool started once; model load not counted);
- services (``sketchref up --free-ports``), for each concurrency C in 1, 4, 8, 16: C clients, all in
  this one asyncio/httpx process, each submitting a scene and long-polling ``GET /v1/jobs/{id}?wait=``
  until it finished, then the next scene. This process' own CPU time is measured and reported per job.

Also: the first job on the freshly started stack vs the median warm job, and the single-job overhead
(services at C=1 minus in-process, paired by image, bootstrap 95% CI). Writes
``reports/bench/throughput.json`` and ``reports/bench/throughput.png`` (jobs/s and p50/p95 latency
against concurrency) and prints a table. ``--quick`` is the smoke mode of the tests (few scenes, C in
1 and 4); ``--doubles`` uses the tests' model stand-ins (plumbing only).

    python scripts/bench_throughput.py [--scenes 60] [--rounds 2] [--pool threads --concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_RATIO, TARGET_OVERHEAD_MS, TARGET_FIRST = 0.75, 25.0, 1.5


def scenes(n: int, doubles: bool) -> list[bytes]:
    from services.core.imaging import encode_image

    if doubles:  # bands of ink the test detector finds; no data set needed
        from PIL import Image

        out = []
        for i in range(n):
            im = Image.new("L", (512, 512), 255)
            for k in range(3):
                x = 20 + 160 * k + (i * 7) % 40
                im.paste(0, (x, 100 + 10 * k, x + 90, 220 + 10 * k))
            out.append(encode_image(im))
        return out
    from training.data.quickdraw import load_drawings
    from training.data.scenes import SceneConfig, compose_scene

    drawings = load_drawings("raw", split="test")
    cfg = SceneConfig(min_objects=3, max_objects=3, min_size=0.25, max_size=0.4, min_gap=12, max_rotation=0)
    return [encode_image(compose_scene(drawings, random.Random(seed), cfg, canvas=(512, 512)).image)
            for seed in range(n)]


def recognizer(doubles: bool):
    from services.core.pipeline import Recognizer
    from services.embedded import load_recognizer

    if doubles:
        from tests.services import doubles as d

        return Recognizer(d.load_detector(), d.load_classifier(), d.load_recommender())
    return load_recognizer()


_REC = None


def _init(doubles: bool) -> None:
    global _REC
    _REC = recognizer(doubles)


def _recognize(data: bytes) -> int:
    assert _REC is not None
    return len(_REC.recognize(data).objects)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def median_ci(xs: list[float], reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choice(xs) for _ in xs) for _ in range(reps))
    return meds[int(0.025 * reps)], meds[int(0.975 * reps) - 1]


def in_process(rec, images: list[bytes]) -> tuple[float, list[float]]:
    """Wall seconds for all images, one after the other, and each image's milliseconds."""
    lat = []
    t0 = time.perf_counter()
    for data in images:
        t = time.perf_counter()
        rec.recognize(data)
        lat.append((time.perf_counter() - t) * 1000)
    return time.perf_counter() - t0, lat


def two_processes(pool, images: list[bytes]) -> float:
    t0 = time.perf_counter()
    pool.map(_recognize, images, chunksize=1)
    return time.perf_counter() - t0


# How a client submits: in one request that waits for the job (RFC 7240 ``Prefer: wait``, 201 when it
# finished), as `sketchref submit --wait` does; long polls follow only when it did not finish in time.
# ``--poll`` measures the submit-then-long-poll flow instead (two requests a job, as the phone app does).
SUBMIT_HEADERS = {"Prefer": "wait=30"}


async def _clients(base: str, images: list[bytes], concurrency: int) -> dict:
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for i, data in enumerate(images):
        queue.put_nowait((i, data))
    lat = [0.0] * len(images)
    failed: list[str] = []
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)

    async def client(c: httpx.AsyncClient) -> None:
        while not queue.empty():
            i, data = queue.get_nowait()
            t = time.perf_counter()
            try:
                r = await c.post("/v1/jobs", files={"image": ("s.png", data, "image/png")}, headers=SUBMIT_HEADERS)
                job = r.json()
                if r.status_code not in (201, 202):
                    raise RuntimeError(f"{r.status_code} {job}")
                while job["status"] not in ("succeeded", "failed"):
                    job = (await c.get(f"/v1/jobs/{job['id']}", params={"wait": 30})).json()
                if job["status"] != "succeeded":
                    failed.append(str(job.get("error")))
            except Exception as exc:  # noqa: BLE001 - counted, reported
                failed.append(f"{type(exc).__name__}: {exc}")
            lat[i] = (time.perf_counter() - t) * 1000

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:
        # the client's own first-use costs (its connections, httpx's multipart encoder) are not the
        # stack's: one refused upload per connection first, untimed (the gateway answers 4xx, no job)
        await asyncio.gather(*(c.post("/v1/jobs", files={"image": ("x.png", b"not an image", "image/png")})
                               for _ in range(concurrency)))
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"wall_s": wall, "latencies_ms": lat, "failed": failed, "client_cpu_s": cpu}


def services_pass(base: str, images: list[bytes], concurrency: int) -> dict:
    return asyncio.run(_clients(base, images, concurrency))


def stack_settings(args) -> dict[str, str]:
    """``--setting SKETCHREF_X=V`` arguments as the stack's environment."""
    return dict(kv.split("=", 1) for kv in args.setting)


def start_stack(args, tmp: Path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_services import start_stack as _start

    # the stack inherits these (bench_services.start_stack copies the environment but SKETCHREF_*)
    return _start(args.doubles, tmp, ["--pool", args.pool, "--concurrency", str(args.concurrency),
                                      "--batch-size", str(args.batch), "--batch-wait-ms", str(args.wait_ms)],
                  stack_settings(args))


def workers_ready(base: str, timeout: float = 600) -> None:
    """Wait until a detector, a classifier and a recommender are serving (``/v1/version``)."""
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            models = httpx.get(base + "/v1/version", timeout=5).json().get("models", {})
            if {"detector", "classifier", "recommender"} <= set(models):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError("the workers did not come up")


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cs = sorted(int(c) for c in report["services"])
    rows = [report["services"][str(c)] for c in cs]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(cs, [r["jobs_per_s"] for r in rows], "o-", label="services jobs/s")
    a.axhline(report["in_process"]["1"]["images_per_s"], color="g", ls="--", label="in-process, 1 process")
    a.axhline(report["in_process"]["2"]["images_per_s"], color="r", ls=":", label="in-process, 2 processes")
    a.set_xlabel("concurrent clients")
    a.set_ylabel("per second")
    a.set_xticks(cs)
    a.legend(fontsize=8)
    b.plot(cs, [r["p50_ms"] for r in rows], "o-", label="p50")
    b.plot(cs, [r["p95_ms"] for r in rows], "s--", label="p95")
    b.set_xlabel("concurrent clients")
    b.set_ylabel("job latency, ms (submit -> succeeded)")
    b.set_xticks(cs)
    b.legend(fontsize=8)
    fig.suptitle(f"sketchref throughput ({report['scenes']} scenes, load avg at start {report['load_average_start']})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summarize_services(passes: list[dict], n: int) -> dict:
    lat = [x for p in passes for x in p["latencies_ms"]]
    wall = sum(p["wall_s"] for p in passes)
    jobs = n * len(passes)
    return {"jobs_per_s": round(jobs / wall, 2), "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(pct(lat, 0.95), 1), "failed": sum(len(p["failed"]) for p in passes),
            "errors": sorted({e for p in passes for e in p["failed"]})[:5],
            "client_cpu_ms_per_job": round(1000 * sum(p["client_cpu_s"] for p in passes) / jobs, 2),
            "passes": len(passes)}


def run(args) -> dict:
    import httpx

    images = scenes(args.scenes, args.doubles)
    load_start = load_average()
    tmp = ROOT / ".cache" / "bench-throughput"
    t_up = time.perf_counter()
    up, port, lines = start_stack(args, tmp)
    base = f"http://127.0.0.1:{port}"
    report: dict = {}
    try:
        ready_s = time.perf_counter() - t_up
        workers_ready(base)  # every worker loaded and warmed its model (its heartbeat is up)
        workers_s = time.perf_counter() - t_up
        time.sleep(1.0)  # its Celery consumer is connected
        # the very first job on the freshly started stack, then warm-up
        first = services_pass(base, images[:1], 1)
        warm = services_pass(base, images[: args.warmup], 1)
        rec = recognizer(args.doubles)
        in_process(rec, images[: args.warmup])
        ctx = mp.get_context("spawn")
        with ctx.Pool(2, initializer=_init, initargs=(args.doubles,)) as pool:
            pool.map(_recognize, images[:4], chunksize=1)  # load and warm both
            one_s, two_s, local_lat = [], [], []
            svc: dict[int, list[dict]] = {c: [] for c in args.clients}
            for r in range(args.rounds):
                wall, lat = in_process(rec, images)
                one_s.append(wall)
                local_lat.append(lat)
                two_s.append(two_processes(pool, images))
                order = args.clients if r % 2 == 0 else list(reversed(args.clients))
                for c in order:
                    time.sleep(0.5)  # the previous pass' trailing work (acks, crop uploads) is over
                    svc[c].append(services_pass(base, images, c))
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        n = len(images)
        one_ips = n * args.rounds / sum(one_s)
        services = {str(c): summarize_services(svc[c], n) for c in args.clients}
        # single-job overhead: services at C=1 minus in-process, the same image in the same round
        pairs = [s - loc for p, lat in zip(svc[args.clients[0]], local_lat, strict=True)
                 for s, loc in zip(p["latencies_ms"], lat, strict=True)] if args.clients[0] == 1 else []
        warm_c1 = [x for p in svc.get(1, []) for x in p["latencies_ms"]] or warm["latencies_ms"]
        local_all = [x for lat in local_lat for x in lat]
        report = {
            "scenes": n, "rounds": args.rounds, "models": "doubles" if args.doubles else "trained",
            "client": "submit, then long poll" if args.poll else "submit with Prefer: wait=30",
            "stack": {"pool": args.pool, "concurrency": args.concurrency, "batch_max_size": args.batch,
                      "settings": stack_settings(args),
                      "batch_max_wait_ms": args.wait_ms, "ready_s": round(ready_s, 1),
                      "workers_ready_s": round(workers_s, 1)},
            "in_process": {"1": {"images_per_s": round(one_ips, 2),
                                 "p50_ms": round(statistics.median(local_all), 1)},
                           "2": {"images_per_s": round(n * args.rounds / sum(two_s), 2)}},
            "services": services,
            "ratio_at_8": (round(services["8"]["jobs_per_s"] / one_ips, 3) if "8" in services else None),
            "overhead_ms": ({"p50": round(statistics.median(pairs), 1),
                             "ci95": [round(v, 1) for v in median_ci(pairs)]} if pairs else None),
            "first_job": {"ms": round(first["latencies_ms"][0], 1),
                          "warm_median_ms": round(statistics.median(warm_c1), 1),
                          "ratio": round(first["latencies_ms"][0] / statistics.median(warm_c1), 2),
                          "failed": len(first["failed"])},
            "load_average_start": load_start, "load_average_end": load_average(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
        }
        with httpx.Client(base_url=base, timeout=10) as c:
            report["server_version"] = c.get("/v1/version").json() if c.get("/v1/version").status_code == 200 else None
    finally:
        import signal

        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
    return report


def verdicts(rep: dict) -> list[str]:
    out = []
    if rep.get("ratio_at_8") is not None:
        ok = rep["ratio_at_8"] >= TARGET_RATIO and rep["services"]["8"]["failed"] == 0
        out.append(f"8 clients: {rep['ratio_at_8']:.2f}x in-process images/s (target >= {TARGET_RATIO}x, 0 failed): "
                   f"{'meets' if ok else 'misses'}")
    if rep.get("overhead_ms"):
        o = rep["overhead_ms"]
        out.append(f"single-job overhead p50 {o['p50']} ms (95% CI {o['ci95'][0]}-{o['ci95'][1]}; target <= "
                   f"{TARGET_OVERHEAD_MS} ms): {'meets' if o['p50'] <= TARGET_OVERHEAD_MS else 'misses'}")
    f = rep["first_job"]
    out.append(f"first job {f['ms']} ms = {f['ratio']}x the warm median {f['warm_median_ms']} ms (target <= "
               f"{TARGET_FIRST}x): {'meets' if f['ratio'] <= TARGET_FIRST else 'misses'}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16])
    ap.add_argument("--pool", default="threads", choices=["prefork", "solo", "threads"])
    ap.add_argument("--concurrency", type=int, default=8, help="tasks at once per worker (threads: = batch size)")
    ap.add_argument("--batch", type=int, default=8, help="SKETCHREF_BATCH_MAX_SIZE")
    ap.add_argument("--wait-ms", type=float, default=10.0, help="SKETCHREF_BATCH_MAX_WAIT_MS")
    ap.add_argument("--setting", action="append", default=[], metavar="SKETCHREF_X=V",
                    help="a setting for the stack's processes (repeatable), e.g. SKETCHREF_DETECTOR_THREADS=1")
    ap.add_argument("--doubles", action="store_true", help="model stand-ins instead of the trained models")
    ap.add_argument("--poll", action="store_true",
                    help="clients submit, then long-poll (two requests a job) instead of Prefer: wait")
    ap.add_argument("--quick", action="store_true", help="smoke test: 6 scenes, 1 round, 1 and 4 clients")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "throughput.json")
    args = ap.parse_args(argv)
    if args.poll:
        SUBMIT_HEADERS.clear()
    if args.quick:
        args.scenes, args.rounds, args.clients, args.warmup = 6, 1, [1, 4], 2
    rep = run(args)
    print(f"{'mode':<26} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'failed':>6} {'client cpu ms/job':>18}")
    for k, v in rep["in_process"].items():
        print(f"{'in-process, ' + k + ' proc':<26} {v['images_per_s']:7.2f} {v.get('p50_ms', float('nan')):8.1f}")
    for c, v in rep["services"].items():
        print(f"{'services, ' + c + ' clients':<26} {v['jobs_per_s']:7.2f} {v['p50_ms']:8.1f} {v['p95_ms']:8.1f} "
              f"{v['failed']:6d} {v['client_cpu_ms_per_job']:18.2f}")
    rep["busy_machine"] = bool(rep["load_average_start"]) and rep["load_average_start"][0] > (os.cpu_count() or 1)
    rep["verdicts"] = [("BUSY MACHINE, not a valid test: " if rep["busy_machine"] else "") + v for v in verdicts(rep)]
    for line in rep["verdicts"]:
        print(line)
    print(f"load average at start {rep['load_average_start']}, at end {rep['load_average_end']} "
          f"({os.cpu_count()} CPUs){' - BUSY MACHINE' if (rep['load_average_start'] or [0])[0] > 1.5 else ''}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=2) + "\n")
    plot(rep, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
