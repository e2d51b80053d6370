"""`make bench`: speed and memory of recognition on this machine. Prints a table, writes JSON.

Measures, after warm-up, the in-process (embedded) recognition of a 512x512 sketch with 3 objects
(held-out drawings), per stage (``normalize``: the input normalisation, ``clean_sketch``), N runs; the median and p90 are reported, plus peak RSS. Further rows
come from the other benchmarks when their parts are present (detector runtimes, services).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def three_object_png(seed: int = 0) -> bytes:
    from services.core.imaging import encode_image
    from training.data.quickdraw import load_drawings
    from training.data.scenes import SceneConfig, compose_scene

    drawings = load_drawings("raw", split="test", words=["cat", "house", "tree", "bicycle", "fish", "sun"])
    cfg = SceneConfig(min_objects=3, max_objects=3, min_size=0.25, max_size=0.4, min_gap=12, max_rotation=0)
    scene = compose_scene(drawings, random.Random(seed), cfg, canvas=(512, 512))
    return encode_image(scene.image)


def summarize(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"median_ms": round(statistics.median(s), 2), "p90_ms": round(s[int(0.9 * (len(s) - 1))], 2),
            "min_ms": round(s[0], 2), "n": len(s)}


def bench_embedded(runs: int) -> dict:
    from services.embedded import load_recognizer

    data = three_object_png()
    rec = load_recognizer()
    for _ in range(3):
        rec.recognize(data)
    totals, stages = [], {"detect": [], "classify": [], "recommend": [], "normalize": []}
    for _ in range(runs):
        t = time.perf_counter()
        r = rec.recognize(data)
        totals.append((time.perf_counter() - t) * 1000)
        for k in stages:
            stages[k].append(rec.last_stats.ms if k == "normalize" else getattr(r.timings_ms, k))
    return {"objects": len(r.objects), "total": summarize(totals),
            **{k: summarize(v) for k, v in stages.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", default=str(ROOT / "reports" / "bench" / "bench.json"))
    args = p.parse_args(argv)
    import torch

    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                          "torch_threads": torch.get_num_threads()}}
    result["embedded"] = bench_embedded(args.runs)
    try:
        from training.detector.bench import bench_runtimes
    except ImportError:
        pass
    else:
        result["detector_runtimes"] = bench_runtimes(args.runs)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(f"{'what':<44} {'median ms':>10} {'p90 ms':>10} {'n':>5}")
    e = result["embedded"]
    for k in ("total", "normalize", "detect", "classify", "recommend"):
        label = f"embedded recognize, 512x512, {e['objects']} objects" if k == "total" else f"  stage {k}"
        print(f"{label:<44} {e[k]['median_ms']:>10} {e[k]['p90_ms']:>10} {e[k]['n']:>5}")
    for name, row in result.get("detector_runtimes", {}).items():
        print(f"{'detector ' + name:<44} {row['median_ms']:>10} {row['p90_ms']:>10} {row['n']:>5}")
    print(f"peak RSS: {result['peak_rss_mb']} MB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
