"""The classifier ablation: LoRA placements × losses × seeds, on natural and long-tailed training data.

``python -m training.classifier.ablation`` trains every arm with :func:`training.classifier.adapt.train`
(same renders, same epochs, same equal-budget ranks; only placement, loss and seed vary), skips arms
whose results already exist (the grid resumes), and writes ``reports/classifier/`` through
:mod:`training.classifier.ablation_report`. Arms are compared on the test split, which no arm
selects on (each selects its epoch by val); the model to ship is chosen by val alone.

- ``natural``: all train drawings (both formats) with their natural class frequencies.
- ``longtail``: the CIFAR-LT-style subsample (:func:`adapt_data.longtail`).

In both, the projections start from DoodleNet's own head (``init_head=''``: identity image
projection, text projection fitted to the head's rows), not from a head fitted on our train split,
which would carry the full data into the long-tailed arm.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from .adapt import AdaptConfig, Data, build, evaluate, train


def _arm_cfg(base: AdaptConfig, setting: str, placement: str, loss: str, seed: int, runs: Path,
             ir: float, lt_epochs: int) -> AdaptConfig:
    lt = setting == "longtail"
    return replace(base, placement=placement, loss=loss, seed=seed, longtail=ir if lt else 0.0,
                   init_head="", epochs=lt_epochs if lt else base.epochs, out=str(runs / setting / f"{placement}-{loss}-s{seed}"))


def run_grid(args) -> dict:
    runs = Path(args.runs)
    base = AdaptConfig(epochs=args.epochs, renders=args.renders, threads=args.threads, tiny=args.tiny,
                       progress=False, batch=args.batch, lr=args.lr, head_lr=args.head_lr, formats=args.formats)
    results = {"settings": {}, "grid": {k: getattr(args, k) for k in
                                        ("placements", "losses", "seeds", "epochs", "lt_epochs", "renders", "ir")}}
    for setting in args.settings.split(","):
        arms = []
        data = None
        for placement in args.placements.split(","):
            for loss in args.losses.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    cfg = _arm_cfg(base, setting, placement, loss, seed, runs, args.ir, args.lt_epochs)
                    mfile = Path(cfg.out) / "metrics.json"
                    done = mfile.exists() and json.loads((Path(cfg.out) / "config.json").read_text())[
                        "train"] == asdict(cfg)
                    if not done and args.report_only:
                        continue
                    if not done:
                        if data is None:
                            t0 = time.time()
                            backbone, model, classes = build(cfg)
                            data = Data(cfg, backbone, model, classes)
                            info = {"baseline": _baseline(model, data), "longtail": data.longtail,
                                    "train_samples": len(data.x), "counts": data.counts.tolist()}
                            (runs / setting).mkdir(parents=True, exist_ok=True)
                            (runs / setting / "data.json").write_text(json.dumps(info))
                            print(f"[{setting}] data ready: {len(data.x)} samples, {time.time() - t0:.0f}s; "
                                  f"no adaptation: val {info['baseline']['val']['top1']:.4f}", flush=True)
                        t0 = time.time()
                        train(cfg, data)
                        print(f"[{setting}] {placement} {loss} seed {seed}: {time.time() - t0:.0f}s", flush=True)
                    m = json.loads(mfile.read_text())
                    arms.append({"placement": placement, "loss": loss, "seed": seed, "dir": cfg.out,
                                 "val": m["val"], "test": m["test"], "params": m["params"],
                                 "best_epoch": m["best_epoch"], "seconds": m["seconds"]})
                    print(f"  {setting:8s} {placement:10s} {loss:16s} s{seed} val {m['val']['top1']:.4f} "
                          f"test {m['test']['top1']:.4f}", flush=True)
        info_file = runs / setting / "data.json"
        info = json.loads(info_file.read_text()) if info_file.exists() else {}
        results["settings"][setting] = {**info, "arms": arms}
    return results


def _baseline(model, data) -> dict:
    """The starting points: the base model without adaptation (shipped projections for natural,
    fresh ones for long-tailed) and DoodleNet's own 345-way head, the distillation teacher."""
    teacher = getattr(model, "image_tower", model)
    return {"val": evaluate(model, *data.val)[0], "test": evaluate(model, *data.test)[0],
            "teacher": {"val": evaluate(teacher, *data.val)[0], "test": evaluate(teacher, *data.test)[0]}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.classifier.ablation")
    p.add_argument("--placements", default="conv-early,conv-late,dense")
    p.add_argument("--losses", default="ce,focal,logit-adjusted,qmw-source,qmw")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--settings", default="natural,longtail")
    p.add_argument("--ir", type=float, default=100.0)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lt-epochs", type=int, default=3)
    p.add_argument("--renders", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--formats", default="raw,simplified")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", default="runs/classifier/ablation")
    p.add_argument("--out", default="reports/classifier")
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--report-only", action="store_true", help="write the report from the arms already done")
    args = p.parse_args(argv)
    results = run_grid(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    from .ablation_report import write_report

    write_report(results, out)
    print(f"wrote {out}/README.md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
