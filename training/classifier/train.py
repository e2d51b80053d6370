"""``sketchref train classifier``: fit the projections of the default two-tower classifier.

Image tower DoodleNet (frozen), text tower MiniLM (frozen, prompt ensembles); trained: the two
projections and the logit scale, with cross-entropy on the real drawings of the train split plus a
distillation term towards DoodleNet's own 345-way head (it has seen 50k drawings per class; our ~17
per class alone would overfit). Selects the epoch by val top-1; writes ``head.pt``, ``config.json``,
``metrics.json`` into ``--out`` (default ``models/classifier``).

With any of ``--backbone``, ``--placement``, ``--loss``, ``--rank``, ``--longtail`` the command trains a
LoRA adapter instead (:mod:`training.classifier.adapt`; ``--help`` there lists its options).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from services.classifier.registry import get_backbone
from services.classifier.text_tower import PROMPTS, encode_labels
from services.common.preprocess import DEFAULT_NORM
from training.cli_args import add_dataclass_arguments
from training.data.quickdraw import class_names, load_drawings

from .renders import normalized_batch


@dataclass
class ClassifierTrainConfig:
    out: str = "models/classifier"
    seed: int = 0
    renders: int = 3  # random renderings per train drawing (plus the reference one)
    fetched_data: str | None = None  # a `sketchref data fetch quickdraw` folder: more train drawings
    epochs: int = 10
    batch: int = 256
    lr: float = 3e-4
    weight_decay: float = 1e-4
    distill: float = 1.0  # weight of KL(student || DoodleNet head)
    temperature: float = 2.0
    tiny: bool = False


@torch.no_grad()
def _features(model, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.from_numpy(x)[:, None]
    feats = torch.cat([model.image_tower.features(t[i:i + 1024]) for i in range(0, len(t), 1024)])
    return feats, model.image_tower.head(feats)


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict:
    top5 = logits.topk(5, 1).indices
    top1 = (top5[:, 0] == y).float()
    per_class = [top1[y == c].mean().item() for c in y.unique()]
    return {"top1": top1.mean().item(), "top5": (top5 == y[:, None]).any(1).float().mean().item(),
            "macro": float(np.mean(per_class)), "n": len(y)}


def train(cfg: ClassifierTrainConfig) -> dict:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)  # tiny matrices: more threads only contend
    classes = class_names()
    words = classes[:12] if cfg.tiny else None
    text = encode_labels(classes)
    model, _ = get_backbone("doodlenet").build(classes, text_features=text)  # projections from its head
    index = {c: i for i, c in enumerate(classes)}
    train_d = load_drawings("raw", split="train", words=words, per_class=4 if cfg.tiny else None,
                            fetched=cfg.fetched_data)
    val_d = load_drawings("raw", split="val", words=words, per_class=2 if cfg.tiny else None)
    renders = 1 if cfg.tiny else cfg.renders
    xs = [normalized_batch(train_d, "reference")] + [
        normalized_batch(train_d, "random", seed=cfg.seed * 100 + r) for r in range(renders)]
    x_train = np.concatenate(xs)
    y_train = torch.tensor([index[d.word] for d in train_d] * (1 + renders))
    f_train, teacher = _features(model, x_train)
    f_val, teacher_val = _features(model, normalized_batch(val_d, "reference"))
    y_val = torch.tensor([index[d.word] for d in val_d])

    params = [model.image_proj.weight, model.text_proj.weight, model.logit_scale]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    epochs = 2 if cfg.tiny else cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=epochs * (len(f_train) // cfg.batch + 1))
    best, best_state, history = -1.0, None, []
    g = torch.Generator().manual_seed(cfg.seed)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(f_train), generator=g)
        for i in range(0, len(perm), cfg.batch):
            idx = perm[i:i + cfg.batch]
            logits = model.logits_from_features(f_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            if cfg.distill:
                T = cfg.temperature
                loss = loss + cfg.distill * T * T * F.kl_div(
                    F.log_softmax(logits / T, -1), F.softmax(teacher[idx] / T, -1), reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            val = _accuracy(model.logits_from_features(f_val), y_val)
        history.append({"epoch": epoch, "loss": loss.item(), **val})
        if val["top1"] > best:
            best, best_state = val["top1"], {k: v.clone() for k, v in model.head_state_dict().items()}
    metrics = {
        "val": max(history, key=lambda h: h["top1"]),
        "val_doodlenet_head": _accuracy(teacher_val, y_val),
        "train_drawings": len(train_d), "train_samples": len(f_train), "seconds": round(time.time() - t0, 1),
    }
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(best_state, out / "head.pt")
    (out / "classes.txt").write_text("\n".join(classes) + "\n")
    (out / "config.json").write_text(json.dumps({
        "backbone": "doodlenet+minilm", "prompts": list(PROMPTS), "norm": DEFAULT_NORM.to_dict(),
        "train": asdict(cfg)}, indent=2))
    (out / "metrics.json").write_text(json.dumps({**metrics, "history": history}, indent=2))
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(p, ClassifierTrainConfig)


ADAPT_FLAGS = ("--backbone", "--placement", "--loss", "--rank", "--longtail")


def main(argv: list[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a.split("=")[0] in ADAPT_FLAGS for a in argv):
        from .adapt import main as adapt_main

        return adapt_main(argv)
    p = argparse.ArgumentParser(prog="sketchref train classifier")
    add_arguments(p)
    cfg = ClassifierTrainConfig(**vars(p.parse_args(argv)))
    print(json.dumps(train(cfg), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
