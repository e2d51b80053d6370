"""Protocol v2 of the classifier ablation: ``sketchref ablation classifier --protocol v2``.

What v1 (``training.classifier.ablation``, 1 epoch, fixed subsample) could not answer, with:

- the **long-tailed** setting, its subsample **re-drawn per seed** (``longtail_seed = seed``), 5 seeds;
- training **to convergence**: at most ``max_epochs`` epochs, early stopping when val top-1 has not
  improved for ``patience`` epochs, the best val epoch kept (test is only evaluated after selection);
- losses ``ce``, ``logit-adjusted``, ``qmw-source``, ``qmw-source-norm`` (the source's weights divided
  by their batch mean: the loss-scale control), ``qmw`` (α = 0.25 unless an arm says otherwise);
- controls: what trains (``head`` only, ``lora`` only with the head frozen at its DoodleNet init,
  ``lora+head``), distillation on/off, a LoRA-only arm at the head's parameter budget, α sensitivity;
- LoRA ranks capped at each layer's maximum useful rank (:mod:`.budget`) and the trainable counts of
  every arm printed and recorded.

Each finished arm writes ``<out>/arms/<arm>/metrics.json`` and ``predictions.npz`` (top-5 class ids and
probabilities per val/test drawing, compressed): the report (:mod:`.v2_report`) recomputes every table
from these alone. A rerun skips finished arms; an arm interrupted mid-way resumes from its epoch
checkpoint under ``--runs``. Arms run group by group, seed-major within a group, so a partial run
holds complete seed sets for the comparisons it reached. Two runners (one core each) can share a grid:
each claims the arm it trains (:func:`claim`) and skips those another live runner holds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import text_backbone as _text_backbone  # noqa: F401  (registers the minilm-text proxy backbone)
from .adapt import RUNTIME_ONLY, AdaptConfig, Data, build, predict_top5, same_config, train

SEEDS = (0, 1, 2, 3, 4)
LOSSES = ("ce", "logit-adjusted", "qmw-source", "qmw-source-norm", "qmw")
QMW_FORMS = ("qmw-source", "qmw-source-norm", "qmw")
# per backbone: the main placement and the placements compared against it
PLACEMENTS = {"doodlenet": ("dense", ("conv-early", "conv-late")),
              "clip": ("attn-qkvo", ("attn-vo", "mlp")),
              "minilm-text": ("attn", ("mlp",))}
ALL_PLACEMENTS = {"doodlenet": ("conv-early", "conv-late", "conv-all", "dense", "all"),
                  "clip": ("attn-qkvo", "attn-vo", "mlp"),
                  "minilm-text": ("attn", "mlp")}
PROXY = ("minilm-text",)  # backbones that only stand in for the source's claim (see text_backbone)
SIZES = {  # max epochs, patience, random renders per drawing (re-drawn per seed), file formats
    "here": {"max_epochs": 30, "patience": 5, "renders": 0, "formats": "raw"},
    "full": {"max_epochs": 60, "patience": 8, "renders": 2, "formats": "raw,simplified"},
    "tiny": {"max_epochs": 2, "patience": 1, "renders": 0, "formats": "raw"},
}


@dataclass(frozen=True)
class Arm:
    group: str
    placement: str
    loss: str
    mode: str = "lora+head"
    distill: float = 1.0
    alpha: float = 0.25
    budget: str = "reference"  # reference | head (LoRA sized to the head's parameter count)
    setting: str = "longtail"
    seed: int = 0

    @property
    def name(self) -> str:
        parts = [self.setting, self.placement, self.mode.replace("+", ""), self.loss]
        if self.alpha != 0.25:
            parts.append(f"a{self.alpha:g}")
        if not self.distill:
            parts.append("nodistill")
        if self.budget != "reference":
            parts.append(f"budget-{self.budget}")
        return "-".join(parts) + f"-s{self.seed}"

    @property
    def cell(self) -> str:
        """The arm without its seed: the unit tables and comparisons are made of."""
        return self.name.rsplit("-s", 1)[0]


def grid(size: str = "here", backbone: str = "doodlenet", seeds=SEEDS) -> list[Arm]:
    """The arms of a protocol size, in run order (group by group, seed-major within a group)."""
    main, others = PLACEMENTS[backbone]
    groups: list[tuple[str, list[dict]]] = [
        ("loss", [{"placement": main, "loss": loss} for loss in LOSSES]),
        ("what-trains", [{"placement": main, "loss": loss, "mode": mode}
                         for mode in ("head", "lora") for loss in LOSSES]),
        ("distillation", [{"placement": main, "loss": loss, "distill": 0.0} for loss in ("ce", *QMW_FORMS)]),
        ("placement", [{"placement": p, "loss": loss} for p in others for loss in ("ce", "logit-adjusted")]),
        ("budget", [{"placement": main, "loss": "ce", "mode": "lora", "budget": "head"}]),
        ("qmw-alpha", [{"placement": main, "loss": "qmw", "alpha": a} for a in (0.1, 0.5)]),
    ]
    if backbone in PROXY:  # the placement question only, plus the head-only reference
        groups = [("placement", [{"placement": p, "loss": loss} for p in ALL_PLACEMENTS[backbone]
                                 for loss in ("ce", "logit-adjusted")]),
                  ("what-trains", [{"placement": main, "loss": "ce", "mode": "head"}])]
    if size == "full":
        groups = [("loss", [{"placement": p, "loss": loss, "setting": s} for s in ("natural", "longtail")
                            for p in ALL_PLACEMENTS[backbone] for loss in (*LOSSES, "focal")]),
                  *[(g, a) for g, a in groups if g not in ("loss", "placement")],
                  ("rank", [{"placement": main, "loss": "ce", "budget": b} for b in ("x0.25", "x4", "x16")])]
    if size == "tiny":
        groups = [(g, a[:2]) for g, a in groups]
    return [Arm(group=g, seed=s, **kw) for g, arms in groups for s in seeds for kw in arms]


def arm_config(arm: Arm, base: AdaptConfig, runs: Path, head_params: int, ref_budget: int) -> AdaptConfig:
    if arm.budget == "head":
        budget = head_params
    elif arm.budget.startswith("x"):
        budget = round(ref_budget * float(arm.budget[1:]))
    else:
        budget = 0
    return replace(base, placement=arm.placement, loss=arm.loss, mode=arm.mode, distill=arm.distill,
                   loss_alpha=arm.alpha, lora_budget=budget, seed=arm.seed,
                   longtail=100.0 if arm.setting == "longtail" else 0.0, longtail_seed=arm.seed,
                   render_seed=arm.seed, out=str(runs / arm.name))


def _done(arm_dir: Path, cfg: AdaptConfig) -> bool:
    mfile = arm_dir / "metrics.json"
    if not (mfile.exists() and (arm_dir / "predictions.npz").exists()):
        return False
    saved = json.loads(mfile.read_text()).get("config", {})
    return same_config(saved, asdict(cfg), ("out", *RUNTIME_ONLY))


def claim(arm_run: Path) -> bool:
    """Take an arm for this process (``claim.pid`` in its run folder), so that two runners can share
    one grid, each training the arms the other has not taken: False while another live process holds
    it; a claim left by a process that is gone is taken over."""
    arm_run.mkdir(parents=True, exist_ok=True)
    f = arm_run / "claim.pid"
    for _ in range(2):
        try:
            fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(f.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid == os.getpid():
                return True
            if pid > 0 and _alive(pid):
                return False
            f.unlink(missing_ok=True)  # its runner is gone (killed): the arm resumes here
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release(arm_run: Path) -> None:
    (arm_run / "claim.pid").unlink(missing_ok=True)


def _starting_points(cfg: AdaptConfig, data: Data, model, out: Path) -> None:
    """``start`` (projections from DoodleNet's head, untrained) and ``teacher`` (the backbone's own
    classifier): seed-independent, written once."""
    import numpy as np

    teacher = getattr(model, "image_tower", None)
    for name, m in (("start", model), ("teacher", teacher)):
        d = out / "arms" / name
        if m is None or (d / "predictions.npz").exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        compact = {f"{split}_{k}": v for split, xy in (("val", data.val), ("test", data.test))
                   for k, v in zip(("top5", "p5"), predict_top5(m, xy[0]), strict=True)}
        np.savez_compressed(d / "predictions.npz", **compact, val_y=data.val[1].numpy().astype(np.int16),
                            test_y=data.test[1].numpy().astype(np.int16))
        (d / "metrics.json").write_text(json.dumps({"arm": {"cell": name, "group": "reference"}}, indent=2))


def _progress(total: int, done: int):
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(total=total, initial=done, desc="protocol v2 arms", unit="arm",
                mininterval=1.0 if tty else 60.0, dynamic_ncols=tty)


def run(size: str = "here", backbone: str = "doodlenet", model: str = "", out: str = "reports/classifier/v2",
        runs: str = "runs/classifier/v2", tiny: bool = False, threads: int = 0, seeds=SEEDS,
        limit: int = 0, dry_run: bool = False) -> dict:
    """Run (or resume) every arm of ``size``; returns ``{"done": n, "total": N, "seconds": ...}``."""
    sz = SIZES["tiny" if tiny else size]
    base = AdaptConfig(backbone=backbone, model=model, epochs=sz["max_epochs"], patience=sz["patience"],
                       renders=sz["renders"], formats=sz["formats"], tiny=tiny, progress=sys.stderr.isatty(), threads=threads,
                       batch=128, lr=2e-3, head_lr=1e-3, init_head="", cap_rank=True)
    arms = grid("tiny" if tiny else size, backbone, seeds)
    out_p, runs_p = Path(out), Path(runs)
    probe_backbone, probe_model, classes = build(base)
    from services.classifier import lora

    head_params = sum(p.numel() for p in probe_backbone.trainable_head(probe_model))
    ref_budget = lora.budget(probe_backbone.lora_root(probe_model), probe_backbone.name)
    cfgs = [(a, arm_config(a, base, runs_p, head_params, ref_budget)) for a in arms]
    done = sum(_done(out_p / "arms" / a.name, c) for a, c in cfgs)
    print(f"protocol v2 ({'tiny' if tiny else size}, {backbone}{' ' + model if model else ''}): {len(arms)} arms, "
          f"{done} done; max {base.epochs} epochs, patience {base.patience}; head {head_params:,} parameters, "
          f"LoRA budget {ref_budget:,}", flush=True)
    if dry_run:
        return {"done": done, "total": len(arms), "seconds": 0.0}
    t_all = time.time()
    data_by_seed: dict = {}
    bar = _progress(len(arms), done)
    ran = 0
    for arm, cfg in cfgs:
        arm_dir = out_p / "arms" / arm.name
        if _done(arm_dir, cfg):
            continue
        if limit and ran >= limit:
            break
        if not claim(Path(cfg.out)):  # another runner is training it
            continue
        key = (arm.setting, arm.seed)
        if key not in data_by_seed:
            data_by_seed.clear()  # one seed's data at a time (memory)
            t0 = time.time()
            bb, m, cl = build(cfg)
            data_by_seed[key] = Data(cfg, bb, m, cl)
            print(f"data {arm.setting} seed {arm.seed}: {len(data_by_seed[key].x)} samples, {time.time() - t0:.0f}s",
                  flush=True)
            _starting_points(cfg, data_by_seed[key], m, out_p)
        t0, c0 = time.time(), time.process_time()
        metrics = train(cfg, data_by_seed[key])
        cpu = time.process_time() - c0
        arm_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(cfg.out) / "compact.npz", arm_dir / "predictions.npz")
        keep = ("val", "test", "params", "best_epoch", "epochs_run", "max_epochs", "patience", "history",
                "train_samples", "longtail", "seconds")
        (arm_dir / "metrics.json").write_text(json.dumps(
            {"arm": {**asdict(arm), "name": arm.name, "cell": arm.cell}, **{k: metrics[k] for k in keep},
             "wall_seconds": round(time.time() - t0, 1), "cpu_seconds": round(cpu, 1),
             "config": asdict(cfg)}, indent=2))
        release(Path(cfg.out))
        ran += 1
        bar.update(1)
        bar.write(f"{arm.name}: val {metrics['val']['top1']:.4f} test {metrics['test']['top1']:.4f} "
                  f"(epoch {metrics['best_epoch']}/{metrics['epochs_run']}, {time.time() - t0:.0f}s, cpu {cpu:.0f}s)")
    bar.close()
    done = sum(_done(out_p / "arms" / a.name, c) for a, c in cfgs)
    return {"done": done, "total": len(arms), "seconds": round(time.time() - t_all, 1)}
