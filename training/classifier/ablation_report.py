"""``reports/classifier/``: tables, plots and the numbers behind the conclusion of the ablation.

Every cell is mean ± 95% Student-t half-width over seeds (:func:`training.eval.stats.t_interval`);
comparisons between losses are paired by (placement, seed), between placements by (loss, seed), so
the shared randomness (renders, data order per seed) cancels out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.eval.stats import t_interval

METRICS = ("top1", "top5", "macro", "worst10")


def _ci(values) -> str:
    m, h = t_interval(values)
    return f"{m:.3f} ± {h:.3f}" + (f" (n={len(values)})" if len(values) < 3 else "")


def _group(arms, *keys):
    out = defaultdict(list)
    for a in arms:
        out[tuple(a[k] for k in keys)].append(a)
    return out


def _paired(arms, factor: str, ref: str, metric: str, split: str = "test") -> dict:
    """``{level: [diff per pair]}``: metric(level) - metric(ref), paired by the other factors."""
    other = "loss" if factor == "placement" else "placement"
    by = {(a[other], a["seed"], a[factor]): a[split][metric] for a in arms}
    diffs = defaultdict(list)
    for (o, s, lvl), v in by.items():
        if lvl != ref and (o, s, ref) in by:
            diffs[lvl].append(v - by[(o, s, ref)])
    return diffs


def few_macro(arm_dir: str) -> float:
    """Macro accuracy over the rarest third of classes by training samples (the LT papers' 'few')."""
    y, pred, counts = _per_class(arm_dir)
    cls = np.unique(y)
    rare = cls[counts[cls] <= np.quantile(counts[cls], 1 / 3)]
    return float(np.mean([(pred[y == c] == c).mean() for c in rare]))


def table(setting: dict) -> list[str]:
    lines = ["| placement | loss | LoRA rank / params | val top-1 | test top-1 | test top-5 | test macro | "
             "test worst-10 | test macro, rarest ⅓ |", "|---|---|---|---|---|---|---|---|---|"]
    b = setting.get("baseline")
    if b:
        lines.append("| none (no adaptation) | – | 0 | " + f"{b['val']['top1']:.3f} | " + " | ".join(
            f"{b['test'][m]:.3f}" for m in METRICS) + " | |")
        t = b.get("teacher")
        if t:
            lines.append("| DoodleNet's own head (teacher) | – | 0 | " + f"{t['val']['top1']:.3f} | " + " | ".join(
                f"{t['test'][m]:.3f}" for m in METRICS) + " | |")
    for (pl, loss), arms in _group(setting["arms"], "placement", "loss").items():
        p = arms[0]["params"]
        lines.append(f"| {pl} | {loss} | {p['rank']} / {p['lora']:,} | {_ci([a['val']['top1'] for a in arms])} | "
                     + " | ".join(_ci([a["test"][m] for a in arms]) for m in METRICS)
                     + f" | {_ci([few_macro(a['dir']) for a in arms])} |")
    return lines


def comparisons(setting: dict) -> tuple[list[str], dict]:
    arms = setting["arms"]
    summary = {"placement": {}, "loss": {}}
    lines = ["| factor | level | n pairs | Δ test top-1 | Δ test macro | Δ test macro, rarest ⅓ |",
             "|---|---|---|---|---|---|"]
    placements = sorted({a["placement"] for a in arms})
    losses = sorted({a["loss"] for a in arms})
    ref_pl = "dense" if "dense" in placements else placements[0]
    for factor, ref, levels in (("placement", ref_pl, placements), ("loss", "ce", losses)):
        if ref not in levels:
            continue
        d = {m: _paired(arms, factor, ref, m) for m in ("top1", "macro", "few")}
        for lvl in levels:
            if lvl == ref or not d["top1"].get(lvl):
                continue
            summary[factor][lvl] = {m: t_interval(d[m][lvl]) for m in d}
            lines.append(f"| {factor} | {lvl} vs {ref} | {len(d['top1'][lvl])} | " + " | ".join(
                _signed(d[m][lvl]) for m in ("top1", "macro", "few")) + " |")
    return lines, summary


def _signed(values) -> str:
    m, h = t_interval(values)
    star = " *" if abs(m) > h and len(values) > 1 else ""
    return f"{m:+.3f} ± {h:.3f}{star}"


def _per_class(arm_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.load(Path(arm_dir) / "predictions.npz")
    return z["test_y"], z["test_top5"][:, 0], z["counts"]


def plot_frequency(setting_name: str, setting: dict, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for loss, arms in _group(setting["arms"], "loss").items():
        acc = defaultdict(list)
        counts = None
        for a in arms:
            y, pred, counts = _per_class(a["dir"])
            for c in np.unique(y):
                acc[c].append(float((pred[y == c] == c).mean()))
        cls = np.array(sorted(acc))
        freq = counts[cls]
        mean_acc = np.array([np.mean(acc[c]) for c in cls])
        edges = np.unique(np.quantile(freq, np.linspace(0, 1, 7)))
        bins = np.clip(np.digitize(freq, edges[1:-1], right=True), 0, len(edges) - 2)
        xs = [freq[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
        ys = [mean_acc[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
        ax.plot(xs, ys, marker="o", label=loss)
    ax.set_xscale("log")
    ax.set_xlabel("training samples of the class (renders × formats × drawings), binned")
    ax.set_ylabel("test top-1 of the class (mean over arms)")
    ax.set_title(f"{setting_name}: accuracy vs class frequency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = f"accuracy_vs_frequency_{setting_name}.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def plot_confusions(setting_name: str, arms: list, classes: list[str], out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = defaultdict(lambda: defaultdict(int))
    for a in arms:
        y, pred, _ = _per_class(a["dir"])
        for t, p in zip(y, pred, strict=True):
            conf[int(t)][int(p)] += 1
    acc = {c: conf[c][c] / sum(conf[c].values()) for c in conf}
    worst = sorted(acc, key=lambda c: (acc[c], classes[c]))[:10]
    cols = []
    for c in worst:
        for p, _ in sorted(conf[c].items(), key=lambda kv: -kv[1])[:3]:
            if p not in cols:
                cols.append(p)
    m = np.array([[conf[r][c] / sum(conf[r].values()) for c in cols] for r in worst])
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(cols) + 3), 5))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), [classes[c] for c in cols], rotation=70, fontsize=7)
    ax.set_yticks(range(len(worst)), [f"{classes[c]} ({acc[c]:.2f})" for c in worst], fontsize=7)
    for i in range(len(worst)):
        for j in range(len(cols)):
            if m[i, j] > 0:
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted (top-1)")
    ax.set_title(f"{setting_name}: the 10 worst test classes of the val-selected arm, pooled over seeds", fontsize=9)
    fig.tight_layout()
    name = f"confusions_worst_{setting_name}.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def best_by_val(arms: list) -> tuple[tuple, list]:
    groups = _group(arms, "placement", "loss")
    key = max(groups, key=lambda k: np.mean([a["val"]["top1"] for a in groups[k]]))
    return key, groups[key]


def write_report(results: dict, out: Path, conclusion: str = "") -> None:
    from training.data.quickdraw import class_names

    classes = class_names()
    g = results["grid"]
    md = ["# Classifier ablation: LoRA placement × loss × seed", "",
          f"Grid: placements `{g['placements']}`, losses `{g['losses']}`, seeds `{g['seeds']}`; "
          f"{g['epochs']} epochs (natural) / {g['lt_epochs']} (long-tailed), {g['renders']} random render(s) "
          "per train drawing besides the reference one, both file formats. DoodleNet + MiniLM backbone, "
          "LoRA ranks set for an equal trainable budget; distillation to DoodleNet's head in every arm. "
          "Cells: mean ± 95% t-interval over seeds. Each arm selects its epoch on val; test (unseen "
          "drawings, reference rendering 512 px / 6 px / 10% margin, normalized as in serving) is only "
          "reported. Δ rows are paired differences; * marks intervals that exclude 0. Test has ~5 drawings "
          "per class, so many classes score 0 for every arm and worst-10 is 0 throughout; the macro over the "
          "rarest third of classes (by training samples) is the tail measure that separates arms.", ""]
    summaries = {}
    for name, setting in results["settings"].items():
        if not setting.get("arms"):
            continue
        for a in setting["arms"]:
            a["test"]["few"] = few_macro(a["dir"])
        lt = setting.get("longtail")
        md += [f"## {name}", ""]
        if lt:
            md += [f"Long-tailed subsample: nominal imbalance ratio {lt['ir_nominal']:.0f}, effective "
                   f"{lt['ir_effective']:.0f} (head {lt['head']}, tail {lt['tail']} drawings per class; "
                   f"{lt['drawings']} drawings). Projections start from DoodleNet's head, as in natural.", ""]
        md += [f"Training samples: {setting.get('train_samples', '?')}.", ""]
        md += table(setting) + [""]
        lines, summaries[name] = comparisons(setting)
        md += lines + [""]
        (pl, loss), arms = best_by_val(setting["arms"])
        summaries[name]["best_by_val"] = {"placement": pl, "loss": loss,
                                          **{m: t_interval([a["test"][m] for a in arms]) for m in METRICS}}
        md += [f"Best arm by val: **{pl} + {loss}**.", "",
               f"![accuracy vs frequency]({plot_frequency(name, setting, out)})", "",
               f"![confusions]({plot_confusions(name, arms, classes, out)})", ""]
    (out / "summary.json").write_text(json.dumps(summaries, indent=2))
    cfile = out / "conclusion.md"
    conclusion = conclusion or (cfile.read_text() if cfile.exists() else "")
    if conclusion:
        md += ["## Conclusion", "", conclusion.strip(), ""]
    (out / "README.md").write_text("\n".join(md))
