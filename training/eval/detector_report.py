"""Tables and plots for ``sketchref eval detector``: runs grouped by loss, mean and 95% t-interval
over seeds; worst-10 and rarest-10 classes for the class-head experiment."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .stats import t_interval

METRICS = [("map50", "mAP50 (agnostic)"), ("map50_95", "mAP50-95 (agnostic)"), ("precision", "P @serving conf"),
           ("recall", "R @serving conf"), ("precision_f1", "P @max-F1 conf"), ("recall_f1", "R @max-F1 conf"),
           ("map50_classes", "mAP50 ({n} classes)"), ("class_recall_macro", "macro class recall"),
           ("class_precision_macro", "macro class precision")]


def _fmt(values: list[float]) -> str:
    if not values:
        return "–"
    m, h = t_interval(values)
    return f"{m:.3f} ± {h:.3f}" if len(values) > 1 else f"{m:.3f}"


def _class_recall(runs: list[dict]) -> dict[str, float]:
    """Mean per-class recall over runs."""
    acc = defaultdict(list)
    for r in runs:
        for w, v in r.get("per_class", {}).items():
            acc[w].append(v["recall"])
    return {w: float(np.mean(v)) for w, v in acc.items()}


def write_report(results: dict[str, dict], out: Path, heldout: dict) -> dict:
    groups: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for name, r in results.items():
        groups[r.get("config", {}).get("loss", "bce")].append((name, r))
    losses = sorted(groups)
    summary = {"heldout": heldout, "losses": {}}
    lines = ["# Detector: BCE vs focal on the held-out scenes", "",
             f"Scenes: {heldout['scenes']} {heldout.get('preset', 'hard')} scenes (seed {heldout['seed']}, "
             f"{heldout['objects']} objects), {heldout.get('split', 'test')}-split drawings only. "
             "Mean ± 95% t-interval over seeds.", "",
             "| metric | " + " | ".join(f"{k} (n={len(groups[k])})" for k in losses) + " |",
             "|---|" + "---|" * len(losses)]
    n_words = heldout.get("words", 345)
    for key, label in METRICS:
        vals = {k: [r[key] for _, r in groups[k] if key in r] for k in losses}
        if not any(vals.values()):
            continue
        lines.append(f"| {label.format(n=n_words)} | " + " | ".join(_fmt(vals[k]) for k in losses) + " |")
        for k in losses:
            summary["losses"].setdefault(k, {})[key] = {"values": vals[k], "mean_ci": t_interval(vals[k])
                                                        if vals[k] else None}
    lines += _paired(groups, losses, n_words)
    lines += ["", "Runs: " + ", ".join(f"`{n}` ({r.get('config', {}).get('loss', '?')}, seed "
                                       f"{r.get('config', {}).get('seed', '?')})" for n, r in results.items()), ""]

    per_loss = {k: _class_recall([r for _, r in groups[k]]) for k in losses}
    if all(per_loss.values()) and len(losses) > 1:
        words = sorted(set.intersection(*(set(v) for v in per_loss.values())))
        both = {w: np.mean([per_loss[k][w] for k in losses]) for w in words}
        worst = sorted(words, key=lambda w: (both[w], w))[:10]
        counts = defaultdict(list)
        for r in results.values():
            for w in words:
                counts[w].append(r.get("train_counts", {}).get(w, 0))
        rarest = sorted(words, key=lambda w: (np.mean(counts[w]), w))[:10]
        for title, sel in (("Worst-10 classes (lowest recall, both losses pooled)", worst),
                           ("Rarest-10 classes (fewest training instances)", rarest)):
            lines += [f"## {title}", "", "| class | train inst. | held-out n | " +
                      " | ".join(f"recall {k}" for k in losses) + " |", "|---|---|---|" + "---|" * len(losses)]
            any_run = next(iter(results.values()))
            for w in sel:
                lines.append(f"| {w} | {np.mean(counts[w]):.1f} | {any_run['per_class'][w]['n']} | "
                             + " | ".join(f"{per_loss[k][w]:.2f}" for k in losses) + " |")
            means = {k: float(np.mean([per_loss[k][w] for w in sel])) for k in losses}
            lines += ["| **mean** | | | " + " | ".join(f"**{means[k]:.3f}**" for k in losses) + " |", ""]
            summary.setdefault("bottom", {})[title] = {"classes": sel, "mean_recall": means}
        if len(words) <= 40:  # every class, most trained first: where does each loss help?
            by_count = sorted(words, key=lambda w: (-np.mean(counts[w]), w))
            lines += ["## Every class, by training instances", "", "| class | train inst. | held-out n | " +
                      " | ".join(f"recall {k}" for k in losses) + " |", "|---|---|---|" + "---|" * len(losses)]
            any_run = next(iter(results.values()))
            lines += [f"| {w} | {np.mean(counts[w]):.1f} | {any_run['per_class'][w]['n']} | "
                      + " | ".join(f"{per_loss[k][w]:.2f}" for k in losses) + " |" for w in by_count]
            lines.append("")
        summary["train_counts"] = {w: float(np.mean(counts[w])) for w in words}
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _plots(groups, per_loss, out, summary.get("train_counts"))
    return summary


def _paired(groups, losses, n_words: int) -> list[str]:
    """focal − bce, paired by seed (same scenes, same data, same seed): a tighter comparison."""
    if set(losses) != {"bce", "focal"}:
        return []
    by_seed = {k: {r.get("config", {}).get("seed"): r for _, r in groups[k]} for k in losses}
    seeds = sorted(set(by_seed["bce"]) & set(by_seed["focal"]), key=str)
    if len(seeds) < 2:
        return []
    out = ["", f"Paired by seed (focal − bce, n={len(seeds)} seeds):", "", "| metric | Δ mean ± 95% t |", "|---|---|"]
    for key, label in METRICS:
        d = [by_seed["focal"][s][key] - by_seed["bce"][s][key] for s in seeds
             if key in by_seed["focal"][s] and key in by_seed["bce"][s]]
        if d:
            m, h = t_interval(d)
            out.append(f"| {label.format(n=n_words)} | {m:+.3f} ± {h:.3f} |")
    return out


def _plots(groups, per_loss, out: Path, train_counts: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = sorted(groups)
    keys = [(k, lab) for k, lab in METRICS if any(k in r for g in groups.values() for _, r in g)]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(keys)), 4))
    width = 0.8 / max(len(losses), 1)
    for i, loss in enumerate(losses):
        for j, (k, _) in enumerate(keys):
            vals = [r[k] for _, r in groups[loss] if k in r]
            x = j + (i - (len(losses) - 1) / 2) * width
            ax.bar(x, np.mean(vals) if vals else 0, width, color=f"C{i}", alpha=0.6, label=loss if j == 0 else None)
            ax.scatter([x] * len(vals), vals, color=f"C{i}", s=12, zorder=3)
    ax.set_xticks(range(len(keys)), [lab for _, lab in keys], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("held-out scenes: bars = mean, dots = seeds")
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    for i, loss in enumerate(losses):
        for name, r in groups[loss]:
            c = r["pr_curve"]
            ax.plot(c["recall"], c["precision"], color=f"C{i}", alpha=0.8, label=f"{loss}: {name}")
    ax.set_xlabel("recall (IoU 0.5, class-agnostic)")
    ax.set_ylabel("precision")
    ax.set_title("confidence sweep 0..1")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "pr_curve.png", dpi=120)
    plt.close(fig)

    if len(losses) == 2 and all(per_loss.values()):
        a, b = losses
        words = sorted(set(per_loss[a]) & set(per_loss[b]))
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter([per_loss[a][w] for w in words], [per_loss[b][w] for w in words], s=8, alpha=0.6)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_xlabel(f"per-class recall, {a}")
        ax.set_ylabel(f"per-class recall, {b}")
        ax.set_title(f"{len(words)} classes (mean over seeds)")
        fig.tight_layout()
        fig.savefig(out / "per_class_recall.png", dpi=120)
        plt.close(fig)

    if train_counts and all(per_loss.values()):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for i, loss in enumerate(losses):
            words = sorted(per_loss[loss], key=lambda w: train_counts.get(w, 0))
            ax.plot([max(train_counts.get(w, 0), 0.5) for w in words], [per_loss[loss][w] for w in words], "o-",
                    color=f"C{i}", ms=3, lw=0.8, alpha=0.8, label=loss)
        ax.set_xscale("log")
        ax.set_xlabel("training instances of the class (log)")
        ax.set_ylabel("class recall at the max-F1 confidence")
        ax.set_title("per-class recall vs class frequency (mean over seeds)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "recall_vs_frequency.png", dpi=120)
        plt.close(fig)
