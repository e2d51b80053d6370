"""``sketchref ablation classifier --protocol v2 [--size here|full] [--tiny]``: the classifier ablation.

``--protocol v2`` runs (or resumes) :mod:`training.classifier.protocol_v2` and then rebuilds its
report from the committed predictions (:mod:`training.classifier.v2_report`); ``--report-only`` only
rebuilds the report. ``--protocol v1`` is the earlier grid (``training.classifier.ablation``).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", choices=["classifier"])
    p.add_argument("--protocol", choices=["v1", "v2"], default="v2")
    p.add_argument("--size", choices=["here", "full"], default="here",
                   help="here: the grid sized for this machine; full: the documented full protocol")
    p.add_argument("--backbone", default="doodlenet", help="a registered backbone: doodlenet | clip")
    p.add_argument("--model", dest="source", default="", help="clip: a hub id or a local folder")
    p.add_argument("--tiny", action="store_true", help="12 classes, 3 drawings each, 2 seeds: a smoke run")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--out", default="", help="default reports/classifier/v2 (tiny: runs/classifier/v2-tiny/report)")
    p.add_argument("--runs", default="", help="epoch checkpoints; default runs/classifier/v2[-tiny]")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--limit", type=int, default=0, help="stop after this many arms (0: all)")
    p.add_argument("--dry-run", action="store_true", help="print the grid and what is done, train nothing")
    p.add_argument("--report-only", action="store_true", help="rebuild the report from the finished arms")
    p.add_argument("--v1-args", default="", help="--protocol v1: the grid's own options, quoted as one string")


def run(args: argparse.Namespace) -> int:
    if args.protocol == "v1":
        import shlex

        from training.classifier.ablation import main

        return main(shlex.split(args.v1_args))
    from training.classifier import protocol_v2, v2_report

    suffix = "-tiny" if args.tiny else ("" if args.backbone == "doodlenet" else f"-{args.backbone}")
    out = args.out or (f"runs/classifier/v2{suffix}/report" if args.tiny else f"reports/classifier/v2{suffix}")
    runs = args.runs or f"runs/classifier/v2{suffix}"
    seeds = tuple(int(s) for s in args.seeds.split(",") if s)
    if args.tiny and args.seeds == "0,1,2,3,4":
        seeds = (0, 1)
    if not args.report_only:
        res = protocol_v2.run(args.size, args.backbone, args.source, out, runs, args.tiny, args.threads, seeds,
                              args.limit, args.dry_run)
        print(f"{res['done']} of {res['total']} arms done ({res['seconds']:.0f}s this run)", flush=True)
        if args.dry_run:
            return 0
    v2_report.write(out, size="tiny" if args.tiny else args.size, backbone=args.backbone, seeds=seeds)
    print(f"wrote {out}/README.md and {out}/conclusion.md", flush=True)
    return 0
