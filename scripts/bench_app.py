"""The phone app's speed and its live guesses, measured in Chromium on a phone viewport with touch.

Over unseen drawings (the first recognised drawing of each of ``--drawings`` words, taken in a seeded
order, from the held-out test split), drawn stroke by stroke with real touch events:
- finger lift -> first guess on screen, after the last stroke of each drawing (target: median
  <= 300 ms), measured in the page (``performance.now()`` at the stroke's pointerup and when the
  guesses are rendered);
- live top-1 vs the submitted job's top-1, on the drawings the job returns as exactly one object
  (target: >= 90 % agreement);
- submit -> labels on screen vs the job's server time (``updated_at - created_at``), on the first
  ``--submits`` drawings (target: median overhead <= 150 ms). "On screen" is the first animation
  frame after the labels are in the page (the frame that paints them). The overhead is split, on the
  machine's one clock, into tap -> ``created_at`` (the POST: sending, drawing and storing the sketch)
  and ``updated_at`` -> on screen (the long poll's answer and the rendering), and the GET requests
  per job are counted (one long poll per job is the design).
Prints a table and writes ``reports/bench/app.json``. Starts its own stack (``sketchref up
--free-ports``) unless ``--url`` points at a running one. Figures from a busy machine say little:
take them on a quiet one.

    python scripts/bench_app.py [--drawings 20] [--submits 10] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

TARGETS = {"lift_to_guess_ms_p50": 300.0, "agreement": 0.90, "overhead_ms_p50": 150.0}


def pick_drawings(n: int, seed: int = 0) -> list:
    from training.data.quickdraw import _fmt_dir, class_names, read_ndjson, split_of

    words = class_names()
    random.Random(seed).shuffle(words)
    out = []
    for w in words:
        path = _fmt_dir("raw") / f"{w}.ndjson"
        if not path.exists():
            continue
        for d in read_ndjson(path):
            if split_of(d.key_id) == "test" and d.recognized and 2 <= len(d.strokes) <= 30:
                out.append(d)
                break
        if len(out) >= n:
            break
    return out


def _iso(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


INSTRUMENT = """() => {
    window.__bench = {};
    document.querySelector('[data-testid=submit]').addEventListener('click', () => {
        window.__bench.submitAt = performance.now();
        window.__bench.submitEpoch = performance.timeOrigin + performance.now();
    }, {capture: true});
    new MutationObserver(() => {
        if (!window.__bench.inDomAt && document.querySelector('#object-list [data-testid=label]')) {
            window.__bench.inDomAt = performance.now();
            requestAnimationFrame(() => {
                window.__bench.labelsAt = performance.now();
                window.__bench.labelsEpoch = performance.timeOrigin + performance.now();
            });
        }
    }).observe(document.querySelector('#object-list'), {childList: true, subtree: true});
}"""


def run(url: str, drawings: list, submits: int) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.web.phone import CHROMIUM, CHROMIUM_ARGS, PHONE, draw_drawing

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(**PHONE)
        page = ctx.new_page()
        jobs: dict[str, dict] = {}
        gets: list[str] = []

        def on_response(res):
            if "/v1/jobs/" in res.url and res.request.method == "GET":
                gets.append(res.url)
            if "/v1/jobs/" in res.url and res.request.method == "GET" and res.ok:
                try:
                    j = res.json()
                except Exception:  # noqa: BLE001 - a body already gone
                    return
                if j.get("status") in ("succeeded", "failed"):
                    jobs[j["id"]] = j

        page.on("response", on_response)
        page.goto(url + "/")
        page.evaluate("() => localStorage.clear()")
        # Warm-up: one drawing guessed and submitted (model loading is not what is measured).
        draw_drawing(page, drawings[0])
        page.get_by_test_id("submit").click()
        page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=300_000)
        for i, d in enumerate(drawings):
            page.goto(url + "/")
            page.evaluate("() => localStorage.clear()")
            page.reload()
            page.evaluate(INSTRUMENT)
            draw_drawing(page, d)
            page.wait_for_function("() => window.sketchref.guesses.last.shownAt > 0", timeout=30_000)
            g = page.evaluate("() => window.sketchref.guesses.last")
            jobs.clear()
            gets.clear()
            page.get_by_test_id("submit").click()
            page.wait_for_function("() => window.sketchref.mode === 'result' && window.__bench.labelsAt"
                                   " || document.querySelector('#empty:not([hidden])')", timeout=120_000)
            b = page.evaluate("() => window.__bench")
            job = next(iter(jobs.values()), None)
            objs = (job or {}).get("objects") or []
            row = {"word": d.word, "key_id": d.key_id, "strokes": len(d.strokes),
                   "lift_to_guess_ms": round(g["shownAt"] - g["liftAt"], 1), "live_top3": g["labels"],
                   "live_confident": g["confident"], "job_objects": len(objs),
                   "job_top1": objs[0]["labels"][0]["label"] if len(objs) == 1 and objs[0].get("labels") else None}
            if i < submits and job and b.get("labelsAt"):
                server = (_iso(job["updated_at"]) - _iso(job["created_at"])) * 1000
                screen = b["labelsAt"] - b["submitAt"]
                row.update(submit_to_labels_ms=round(screen, 1), server_ms=round(server, 1),
                           overhead_ms=round(screen - server, 1), get_requests=len(gets),
                           tap_to_created_ms=round(_iso(job["created_at"]) * 1000 - b["submitEpoch"], 1),
                           updated_to_screen_ms=round(b["labelsEpoch"] - _iso(job["updated_at"]) * 1000, 1))
            rows.append(row)
            print(f"  {i + 1:2d}/{len(drawings)} {d.word:<16} guess {row['lift_to_guess_ms']:7.1f} ms"
                  f"  live {g['labels'][:1]} job {row['job_top1']}", flush=True)
        browser.close()
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    lift = [r["lift_to_guess_ms"] for r in rows]
    single = [r for r in rows if r["job_top1"] is not None]
    agree = [r["live_top3"][:1] == [r["job_top1"]] for r in single]
    sub = [r for r in rows if "overhead_ms" in r]
    return {
        "rows": rows,
        "lift_to_guess_ms_p50": statistics.median(lift) if lift else None,
        "lift_to_guess_ms_max": max(lift) if lift else None,
        "single_object_jobs": len(single),
        "agreement": sum(agree) / len(agree) if agree else None,
        "submits": len(sub),
        "submit_to_labels_ms_p50": statistics.median(r["submit_to_labels_ms"] for r in sub) if sub else None,
        "server_ms_p50": statistics.median(r["server_ms"] for r in sub) if sub else None,
        "overhead_ms_p50": statistics.median(r["overhead_ms"] for r in sub) if sub else None,
        "tap_to_created_ms_p50": statistics.median(r["tap_to_created_ms"] for r in sub) if sub else None,
        "updated_to_screen_ms_p50": statistics.median(r["updated_to_screen_ms"] for r in sub) if sub else None,
        "get_requests_per_job_max": max(r["get_requests"] for r in sub) if sub else None,
    }


def table(res: dict) -> str:
    def fmt(v, unit=""):
        return "n/a" if v is None else (f"{v:.1%}" if unit == "%" else f"{v:.0f} ms")

    lines = ["| measure | value | target |", "|---|---|---|",
             f"| finger lift -> first guess, median ({len(res['rows'])} drawings) | "
             f"{fmt(res['lift_to_guess_ms_p50'])} | <= 300 ms |",
             f"| live top-1 = job top-1 ({res['single_object_jobs']} single-object jobs) | "
             f"{fmt(res['agreement'], '%')} | >= 90% |",
             f"| submit -> labels on screen, median ({res['submits']}) | {fmt(res['submit_to_labels_ms_p50'])} | |",
             f"| server time (updated_at - created_at), median | {fmt(res['server_ms_p50'])} | |",
             f"| on screen - server, median | {fmt(res['overhead_ms_p50'])} | <= 150 ms |",
             f"| ... of which tap -> created_at, median | {fmt(res['tap_to_created_ms_p50'])} | |",
             f"| ... of which updated_at -> on screen, median | {fmt(res['updated_to_screen_ms_p50'])} | |",
             f"| GET requests per job, max | {res['get_requests_per_job_max']} | 1 (one long poll) |"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drawings", type=int, default=20)
    ap.add_argument("--submits", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--url", help="a running stack (default: start one with sketchref up --free-ports)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "app.json")
    args = ap.parse_args(argv)

    drawings = pick_drawings(args.drawings, args.seed)
    up = None
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url
        if not url:
            from bench_services import start_stack

            up, port, _lines = start_stack(False, Path(tmp))
            url = f"http://127.0.0.1:{port}"
        try:
            res = run(url.rstrip("/"), drawings, args.submits)
        finally:
            if up is not None:
                up.send_signal(signal.SIGINT)
                up.wait(timeout=90)
    res.update(targets=TARGETS, seed=args.seed, when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               machine={"platform": platform.platform(), "python": platform.python_version()},
               command="python scripts/bench_app.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(table(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
