"""The classifier trainer (``sketchref train classifier``; :mod:`training.classifier.train` is its
command line): LoRA domain adaptation, and the shipped model's projections (``--mode projections``).

Starts from a backbone (``doodlenet``: DoodleNet + MiniLM with the shipped projections from
``--init-head``; ``clip``: a CLIPModel from a hub id or folder), injects LoRA at a named placement
(equal-budget rank unless ``--rank``), and trains the adapter and the head on the real drawings of
the train split (rendered like users' PNGs, both file formats) with the chosen loss plus
``distill · T² · KL(teacher ‖ student)`` towards the backbone's teacher (DoodleNet's own head / CLIP's
zero-shot logits). The epoch is selected by val top-1; test is evaluated once, after selection.
Writes into ``--out``: the adapter (peft files), ``head.pt``, ``classes.txt``, ``config.json`` (the
resolved config), ``metrics.json``, ``predictions.npz`` and a resumable ``checkpoint.pt``.

``--mode projections`` is the recipe of the shipped ``models/classifier`` (``sketchref train classifier``
without adapter flags): no LoRA; the image tower's features are computed once (frozen, no dropout) and
only the head trains, at ``--lr``, with a one-cycle schedule over one shuffling stream seeded by
``--seed`` (which also seeds the renderings); ``--fetched-data`` adds to the first format when
``simplified`` is not among ``--formats``. Val selects the epoch; the teacher's own val accuracy is
reported (``val_teacher``); test is not touched, and only ``head.pt``, ``classes.txt``,
``config.json`` and ``metrics.json`` are written.

Every accuracy is :func:`training.classifier.metrics.accuracy`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from services.classifier import lora
from services.classifier.registry import get_backbone
from services.classifier.text_tower import PROMPTS
from training.cli_args import add_dataclass_arguments
from training.data.quickdraw import class_names

from . import adapt_data as D
from .budget import capped_lora_config
from .losses import build_loss
from .metrics import accuracy

MODES = ("lora+head", "head", "lora", "projections")


@dataclass
class AdaptConfig:
    out: str = "runs/classifier/adapt"
    backbone: str = "doodlenet"
    model: str = ""  # clip: hub id or local folder
    placement: str = "conv-all"
    rank: int = 0  # 0: the rank that meets the equal budget
    loss: str = "ce"
    seed: int = 0
    formats: str = "raw,simplified"
    fetched_data: str = ""  # a `sketchref data fetch quickdraw` folder: more simplified train drawings
    renders: int = 1  # random renderings per train drawing, besides the reference one
    render_seed: int = 0  # renderings are the same across --seed values
    longtail: float = 0.0  # imbalance ratio of a long-tailed subsample; 0: natural distribution
    epochs: int = 3
    batch: int = 128
    lr: float = 2e-3
    head_lr: float = 5e-4
    weight_decay: float = 1e-4
    distill: float = 1.0
    temperature: float = 2.0
    init_head: str = "models/classifier/head.pt"  # backbones with shipped_head start from these
    threads: int = 0  # torch threads; 0: leave as is
    tiny: bool = False
    progress: bool = True
    # protocol v2 (defaults keep the v1 behaviour)
    # what trains: lora+head | head (no LoRA) | lora (head frozen at its init) | projections (the shipped
    # model's recipe: the head on features computed once; see the module docstring)
    mode: str = "lora+head"
    patience: int = 0  # early stopping: stop after this many epochs without a better val top-1; 0: never
    loss_alpha: float = 0.25  # the QMW quantile α
    longtail_seed: int = -1  # >= 0: the long-tailed subsample is re-drawn with this seed; -1: fixed
    lora_budget: int = 0  # LoRA parameter budget; 0: the backbone's reference
    cap_rank: bool = False  # cap each layer's rank at its maximum useful rank (training.classifier.budget)


def evaluate(model, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> tuple[dict, np.ndarray]:
    """:func:`~training.classifier.metrics.accuracy` of ``model`` (any ``x -> logits``; an
    ``nn.Module`` is put in eval mode) on ``(x, y)``, and its top-5 class ids."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    top5 = logits.topk(5, 1).indices
    return accuracy(top5.numpy(), y.numpy()), top5.numpy()


RUNTIME_ONLY = ("threads", "progress")  # settings that do not change what is trained


def same_config(a: dict, b: dict, ignore: tuple[str, ...] = RUNTIME_ONLY) -> bool:
    """Whether two resolved configs train the same thing (runtime-only settings aside). A setting added
    after a config was saved counts at its default there: that is what the saved run trained with."""
    defaults = asdict(AdaptConfig())
    a, b = {**defaults, **a}, {**defaults, **b}
    return {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


def predict_top5(model, x: torch.Tensor, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Compact predictions: top-5 class ids (int16) and their softmax probabilities (float16)."""
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    p, idx = logits.softmax(-1).topk(5, 1)
    return idx.numpy().astype(np.int16), p.numpy().astype(np.float16)


class Data:
    """Prepared tensors shared by runs on the same backbone (the grid builds it once)."""

    def __init__(self, cfg: AdaptConfig, backbone, model, classes: list[str]):
        index = {c: i for i, c in enumerate(classes)}
        words = classes[:12] if cfg.tiny else None
        per = 3 if cfg.tiny else None
        formats = tuple(f for f in cfg.formats.split(",") if f)
        projections = cfg.mode == "projections"
        train = D.load_split("train", formats, words, per, fetched=cfg.fetched_data or None)
        held = [D.load_split(s, formats, words, per) for s in (("val",) if projections else ("val", "test"))]
        self.train_keys = D.check_no_leak([d for lst in train.values() for d in lst],
                                          *[lst for h in held for lst in h.values()])
        norm = backbone.norm
        x, y, keys = D.inputs(train, 0 if cfg.tiny else cfg.renders, cfg.seed if projections else cfg.render_seed,
                              index, norm)
        self.longtail = None
        if cfg.longtail:
            keep, self.longtail = D.longtail(train, cfg.longtail, classes,
                                             None if cfg.longtail_seed < 0 else cfg.longtail_seed)
            mask = np.isin(keys, list(keep))
            x, y = x[mask], y[mask]
        self.x = backbone.prepare(x)
        self.y = torch.from_numpy(y)
        self.counts = D.class_counts(y, len(classes))
        self.teacher = torch.cat([backbone.teacher(model, self.x[i:i + 512]) for i in range(0, len(self.x), 512)])
        self._prefixed: dict = {}
        self.val, self.test = ([
            (backbone.prepare(D.normalized_batch(h["raw"], "reference", **({"norm": norm} if norm else {}))),
             torch.tensor([index[d.word] for d in h["raw"]])) for h in held] + [None])[:2]


_TEXT: dict = {}  # class text embeddings per (backbone, source), computed once per process


def _prefixed(data: Data, placement: str | None, prefix) -> torch.Tensor:
    """The train inputs through the frozen prefix of ``placement`` (cached on ``data``)."""
    if prefix is None:
        return data.x
    if placement not in data._prefixed:
        with torch.no_grad():
            data._prefixed[placement] = torch.cat([prefix(data.x[i:i + 1024]) for i in range(0, len(data.x), 1024)])
    return data._prefixed[placement]


def build(cfg: AdaptConfig):
    """The backbone and its base model (the shipped head loaded where it fits), before LoRA."""
    backbone = get_backbone(cfg.backbone, cfg.model or None)
    classes = class_names()
    head = None
    if backbone.shipped_head and cfg.init_head and Path(cfg.init_head).exists():
        head = torch.load(cfg.init_head, map_location="cpu", weights_only=True)
    key = (backbone.name, cfg.model)
    model, classes = backbone.build(classes, None if head else _TEXT.get(key), head=head)
    _TEXT.setdefault(key, model.text_features.clone())
    return backbone, model, classes


def _schedule(opt, cfg: AdaptConfig, epochs: int, n: int):
    if cfg.mode == "projections":  # one cycle at --lr (the shipped model's recipe)
        return torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=epochs * (n // cfg.batch + 1))
    total = epochs * max(1, math.ceil(n / cfg.batch))
    warm = max(1, total // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))


def _iterate(n: int, desc: str, show: bool):
    if not show:
        return range(n)
    from tqdm import tqdm

    return tqdm(range(n), desc=desc, leave=False, mininterval=2.0)


def train(cfg: AdaptConfig, data: Data | None = None) -> dict:
    """Train one adapter (or the projections) on a fresh base; ``data`` (built for the same backbone
    and mode) is reused if given."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    backbone, model, classes = build(cfg)
    if data is None:
        data = Data(cfg, backbone, model, classes)
    if cfg.mode not in MODES:
        raise ValueError(f"unknown mode {cfg.mode!r}; choose from {', '.join(MODES)}")
    projections = cfg.mode == "projections"
    adapts = cfg.mode in ("lora+head", "lora")
    root = backbone.lora_root(model)
    budget, plan, lcfg = 0, None, None
    if not projections:
        budget = cfg.lora_budget or lora.budget(root, backbone.name)  # before injection wraps the layers
        if cfg.cap_rank and not cfg.rank:
            lcfg, plan = capped_lora_config(root, backbone.name, cfg.placement, budget)
        else:
            lcfg = lora.lora_config(root, backbone.name, cfg.placement, cfg.rank, target_budget=budget)
    for p in root.parameters():
        p.requires_grad_(False)
    if adapts:
        lora.inject(root, lcfg)
    adapter_params = lora.lora_parameters(root)
    head_params = backbone.trainable_head(model)
    for p in head_params:
        p.requires_grad_(cfg.mode != "lora")
    if cfg.mode == "lora":
        head_params = []
    rank = lcfg.r if adapts and lcfg is not None else 0
    counts = {"lora": lora.count(root), "head": sum(p.numel() for p in head_params),
              "rank": rank, "budget": budget, "mode": cfg.mode, "rank_caps": plan.caps if plan else {}}
    counts["trainable"] = counts["lora"] + counts["head"]
    placement = None if projections else cfg.placement
    print(f"[{placement or 'features'} {cfg.mode}] LoRA rank {counts['rank']}"
          f"{' ' + str(plan.caps) if plan and plan.caps else ''}: {counts['lora']:,} trainable adapter parameters "
          f"(budget {budget:,}), head {counts['head']:,}; trainable {counts['trainable']:,}", flush=True)
    prefix, suffix = backbone.split(model, placement)
    x_train = _prefixed(data, placement, prefix)
    val_in = (_prefixed_val(data, prefix), data.val[1]) if projections and prefix is not None else data.val
    head_lr = cfg.lr if projections else cfg.head_lr
    groups = [{"params": ps, "lr": lr} for ps, lr in ((adapter_params, cfg.lr), (head_params, head_lr)) if ps]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    n = len(data.x)
    steps = max(1, math.ceil(n / cfg.batch))
    epochs = 1 if cfg.tiny and not cfg.patience else cfg.epochs  # tiny smoke runs: 1 epoch unless early stopping
    sched = _schedule(opt, cfg, epochs, n)
    loss_fn = build_loss(cfg.loss, data.counts, **({"alpha": cfg.loss_alpha} if cfg.loss.startswith("qmw") else {}))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = None if projections else out / "checkpoint.pt"  # the projections train in seconds
    state = {"epoch": 0, "history": [], "best": -1.0, "best_state": None, "best_epoch": 0}
    if ckpt_path is not None and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)  # tensors and plain types only
        if same_config(ck["config"], asdict(cfg)):
            model.load_state_dict(ck["model"], strict=False)
            opt.load_state_dict(ck["opt"])
            sched.load_state_dict(ck["sched"])
            state = ck["state"]
            print(f"resumed {ckpt_path} at epoch {state['epoch']}", flush=True)
    trainable = {id(p) for p in adapter_params + head_params}
    g = torch.Generator().manual_seed(cfg.seed)
    t0 = time.time()
    T = cfg.temperature
    for epoch in range(state["epoch"], epochs):
        if cfg.patience and state["epoch"] - state.get("best_epoch", state["epoch"]) >= cfg.patience:
            break  # early stopping (also when a resumed run had already stopped)
        if not projections:  # resumable: each epoch's order from its own seed
            g.manual_seed(cfg.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g)
        model.train()
        total = 0.0
        for s in _iterate(steps, f"epoch {epoch + 1}/{epochs}", cfg.progress):
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch]
            z = suffix(x_train[idx])
            loss = loss_fn(z, data.y[idx])
            if cfg.distill:
                loss = loss + cfg.distill * T * T * F.kl_div(
                    F.log_softmax(z / T, -1), F.softmax(data.teacher[idx] / T, -1), reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        model.eval()
        val, _ = evaluate(suffix if projections else model, *val_in)
        state["history"].append({"epoch": epoch + 1, "loss": total / steps, **val})
        if val["top1"] > state["best"]:
            state["best"] = val["top1"]
            state["best_epoch"] = epoch + 1
            state["best_state"] = {k: v.detach().clone() for k, v in model.named_parameters()
                                   if id(v) in trainable}
        state["epoch"] = epoch + 1
        if ckpt_path is not None:
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save({"config": asdict(cfg), "model": {k: v for k, v in model.named_parameters()
                                                         if id(v) in trainable},
                        "opt": opt.state_dict(), "sched": sched.state_dict(), "state": state}, tmp)
            tmp.replace(ckpt_path)
        print(f"epoch {epoch + 1}: loss {total / steps:.4f} val top1 {val['top1']:.4f} top5 {val['top5']:.4f}",
              flush=True)
    model.load_state_dict(state["best_state"], strict=False)
    model.eval()
    val, _ = evaluate(suffix if projections else model, *val_in)
    metrics = {"val": val}
    if projections:  # the teacher's own val accuracy, for comparison; test stays untouched
        metrics["val_teacher"] = evaluate(lambda x: backbone.teacher(model, x), *data.val)[0]
    else:
        test, test_top5 = evaluate(model, *data.test)  # once, after selection
        metrics["test"] = test
    metrics.update({"params": counts, "best_epoch": max(
        state["history"], key=lambda h: h["top1"])["epoch"], "history": state["history"],
        "train_samples": n, "train_drawings": data.train_keys, "longtail": data.longtail,
        "seconds": round(time.time() - t0, 1), "epochs_run": state["epoch"],
        "max_epochs": epochs, "patience": cfg.patience})
    if adapts:
        lora.save_adapter(root, lcfg, out)
    torch.save({k: v.detach().clone() for k, v in model.head_state_dict().items()}, out / "head.pt")
    (out / "classes.txt").write_text("\n".join(classes) + "\n")
    (out / "config.json").write_text(json.dumps({
        "backbone": backbone.name, "model": cfg.model or getattr(backbone, "source", None),
        "placement": placement, "rank": lcfg.r if lcfg is not None else 0, "prompts": list(PROMPTS),
        "norm": backbone.norm.to_dict(), "train": asdict(cfg)}, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if projections:
        return metrics
    compact = {f"{split}_{k}": v for split, xy in (("val", data.val), ("test", data.test))
               for k, v in zip(("top5", "p5"), predict_top5(model, xy[0]), strict=True)}
    np.savez_compressed(out / "predictions.npz", test_top5=test_top5, test_y=data.test[1].numpy(),
                        counts=data.counts)
    np.savez_compressed(out / "compact.npz", **compact, val_y=data.val[1].numpy().astype(np.int16),
                        test_y=data.test[1].numpy().astype(np.int16), counts=data.counts.astype(np.int32))
    return metrics


def _prefixed_val(data: Data, prefix) -> torch.Tensor:
    with torch.no_grad():
        x = data.val[0]
        return torch.cat([prefix(x[i:i + 1024]) for i in range(0, len(x), 1024)])


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(p, AdaptConfig)


SUMMARY = ("val", "val_teacher", "test", "params", "best_epoch", "train_drawings", "train_samples", "seconds")


def main(argv: list[str] | None = None, defaults: dict | None = None,
         prog: str = "sketchref train classifier --placement ...") -> int:
    """Parse ``argv`` into an :class:`AdaptConfig` (``defaults`` override the fields' own), train,
    print the summary."""
    p = argparse.ArgumentParser(prog=prog)
    add_arguments(p)
    p.set_defaults(**(defaults or {}))
    m = train(AdaptConfig(**vars(p.parse_args(argv))))
    print(json.dumps({k: m[k] for k in SUMMARY if k in m}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
