"""The protocol v2 report, rebuilt from the committed compact predictions alone.

``sketchref ablation classifier --protocol v2 --report-only`` (or :func:`write`) reads
``<out>/arms/*/{metrics.json,predictions.npz}`` and writes ``<out>/README.md`` (protocol, per-cell table,
comparisons) and ``<out>/conclusion.md`` (the source's claims, each answered, a proxy or untested).
Every interval is a hierarchical bootstrap over seeds × test drawings (:func:`stats.hierarchical_bootstrap`),
every comparison is paired by seed on the same test drawings, and the p-values of all comparisons in the
report are Holm-corrected together. The v1 (1-epoch) tables are appended unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.eval.stats import hierarchical_bootstrap, holm, item_weights, mcnemar

from . import protocol_v2 as P

V1_README = Path("reports/classifier/README.md")


@dataclass
class Cell:
    name: str
    arm: dict
    seeds: dict[int, dict] = field(default_factory=dict)  # seed -> {"metrics", "pred"}


def load(out: Path) -> tuple[dict[str, Cell], dict[str, dict]]:
    cells: dict[str, Cell] = {}
    refs: dict[str, dict] = {}
    for d in sorted((out / "arms").glob("*")):
        if not ((d / "metrics.json").exists() and (d / "predictions.npz").exists()):
            continue
        m = json.loads((d / "metrics.json").read_text())
        pred = dict(np.load(d / "predictions.npz"))
        if m["arm"].get("group") == "reference":
            refs[m["arm"]["cell"]] = {"metrics": m, "pred": pred}
            continue
        c = cells.setdefault(m["arm"]["cell"], Cell(m["arm"]["cell"], m["arm"]))
        c.seeds[int(m["arm"]["seed"])] = {"metrics": m, "pred": pred}
    return cells, refs


def _hits(pred: dict, split: str = "test", k: int = 1) -> np.ndarray:
    return (pred[f"{split}_top5"][:, :k] == pred[f"{split}_y"][:, None]).any(1).astype(float)


def _fmt(r: dict, pts: bool = False) -> str:
    f = (lambda v: f"{100 * v:+.1f}") if pts else (lambda v: f"{v:.3f}")
    return f"{f(r['mean'])} [{f(r['lo'])}, {f(r['hi'])}]"


class Stats:
    def __init__(self, cells: dict[str, Cell], refs: dict[str, dict], n_boot: int = 2000):
        self.cells, self.refs, self.n_boot = cells, refs, n_boot
        any_pred = next(iter([*refs.values(), *[s for c in cells.values() for s in c.seeds.values()]]))["pred"]
        self.y = any_pred["test_y"].astype(int)
        self.val_y = any_pred["val_y"].astype(int)
        counts = [s["pred"]["counts"] for c in cells.values() for s in c.seeds.values() if "counts" in s["pred"]]
        present = np.unique(self.y)
        if counts:
            mean = np.mean(counts, 0)
            order = present[np.argsort(mean[present], kind="stable")]
            self.rare = order[: max(1, len(order) // 3)]
        else:
            self.rare = None  # no trained arm: no training counts to rank classes by
        self.metrics = {"top-1": (1, np.full(len(self.y), 1 / len(self.y))), "top-5": (5, np.full(len(self.y), 1 / len(self.y))),
                        "macro": (1, item_weights(self.y))}
        if self.rare is not None:
            self.metrics["rarest ⅓ macro"] = (1, item_weights(self.y, self.rare))

    def hits(self, cell: str, seeds=None, k: int = 1, split: str = "test") -> np.ndarray:
        if cell in self.refs:
            return _hits(self.refs[cell]["pred"], split, k)[None]
        c = self.cells[cell]
        return np.stack([_hits(c.seeds[s]["pred"], split, k) for s in sorted(seeds or c.seeds)])

    def interval(self, cell: str, metric: str) -> dict:
        k, w = self.metrics[metric]
        return hierarchical_bootstrap(self.hits(cell, k=k), self.y, w, self.n_boot)

    def compare(self, a: str, b: str, metric: str) -> dict | None:
        seeds = self._paired_seeds(a, b)
        if seeds is None:
            return None
        k, w = self.metrics[metric]
        r = hierarchical_bootstrap(self.hits(a, seeds, k) - self.hits(b, seeds, k), self.y, w, self.n_boot)
        r["n_seeds"] = len(seeds) if seeds else 1
        if metric == "top-1":
            ha, hb = np.broadcast_arrays(self.hits(a, seeds), self.hits(b, seeds))
            r["mcnemar"] = [mcnemar(x, z)[2] for x, z in zip(ha, hb, strict=True)]
        return r

    def _paired_seeds(self, a: str, b: str):
        sa = None if a in self.refs else set(self.cells[a].seeds) if a in self.cells else set()
        sb = None if b in self.refs else set(self.cells[b].seeds) if b in self.cells else set()
        if sa is None and sb is None:
            return []
        common = (sa if sb is None else sb if sa is None else sa & sb)
        return sorted(common) if common else None


def comparisons(backbone: str) -> list[tuple[str, str, str, str]]:
    """``(family, label, a, b)``: the planned comparisons, in report order (missing cells are skipped)."""
    main, others = P.PLACEMENTS[backbone]

    def c(placement=main, mode="lora+head", loss="ce", alpha=0.25, distill=1.0, budget="reference") -> str:
        return P.Arm("", placement, loss, mode, distill, alpha, budget).cell

    out = [("loss", f"{loss} vs ce", c(loss=loss), c()) for loss in P.LOSSES[1:]]
    out += [("loss", "qmw vs logit-adjusted", c(loss="qmw"), c(loss="logit-adjusted")),
            ("loss", "qmw-source vs qmw-source-norm (loss scale)", c(loss="qmw-source"), c(loss="qmw-source-norm"))]
    out += [("what trains", f"{loss}: LoRA+head vs head-only (what LoRA adds)", c(loss=loss), c(loss=loss, mode="head"))
            for loss in P.LOSSES]
    out += [("what trains", f"{loss}: LoRA-only vs head-only", c(loss=loss, mode="lora"), c(loss=loss, mode="head"))
            for loss in ("ce",)]
    out += [("what trains", "ce: LoRA-only at the head's budget vs head-only", c(mode="lora", budget="head"),
             c(mode="head"))]
    out += [("distillation", f"{loss}: with vs without distillation", c(loss=loss), c(loss=loss, distill=0.0))
            for loss in ("ce", *P.QMW_FORMS)]
    out += [("placement", f"{loss}: {p} vs {main}", c(placement=p, loss=loss), c(loss=loss))
            for p in others for loss in ("ce", "logit-adjusted")]
    out += [("starting points", f"{loss} vs no adaptation (start)", c(loss=loss), "start")
            for loss in ("ce", "logit-adjusted", "qmw")]
    out += [("starting points", "logit-adjusted vs the teacher (DoodleNet's own head)", c(loss="logit-adjusted"),
             "teacher")]
    return out


def _cell_row(st: Stats, cell: str) -> str:
    c = st.cells[cell]
    ms = [s["metrics"] for s in c.seeds.values()]
    p = ms[0]["params"]
    caps = ", ".join(f"{k}≤{v}" for k, v in p.get("rank_caps", {}).items())
    rank = f"{p['rank']}" + (f" ({caps})" if caps else "")
    val = np.mean([m["val"]["top1"] for m in ms])
    ep = f"{np.mean([m['best_epoch'] for m in ms]):.1f} / {np.mean([m['epochs_run'] for m in ms]):.1f}"
    a = c.arm
    cols = [a["placement"], a["mode"], a["loss"] + (f" α={a['alpha']:g}" if a["alpha"] != 0.25 else ""),
            "yes" if a["distill"] else "no", rank, f"{p['lora']:,} + {p['head']:,}", str(len(c.seeds)), ep,
            f"{val:.3f}"]
    cols += [_fmt(st.interval(cell, m)) for m in st.metrics]
    return "| " + " | ".join(cols) + " |"


def _ref_row(st: Stats, name: str, label: str) -> str:
    cols = [_fmt(st.interval(name, m)) for m in st.metrics] + ["–"] * (4 - len(st.metrics))
    return "| " + " | ".join([label, "–", "–", "–", "–", "0", "–", "–", "–", *cols]) + " |"


def build_tables(st: Stats, backbone: str) -> tuple[list[str], list[dict]]:
    lines = ["| placement | trains | loss | distill | LoRA rank | params (LoRA + head) | seeds | best / run epochs "
             "| val top-1 | test top-1 | test top-5 | test macro | test rarest ⅓ macro |",
             "|" + "---|" * 13]
    for name, label in (("start", "no adaptation (start)"), ("teacher", "teacher: DoodleNet's own head")):
        if name in st.refs:
            lines.append(_ref_row(st, name, label))
    lines += [_cell_row(st, c) for c in sorted(st.cells, key=lambda n: (st.cells[n].arm["group"], n))]
    rows = []
    for fam, label, a, b in comparisons(backbone):
        if (a not in st.cells and a not in st.refs) or (b not in st.cells and b not in st.refs):
            continue
        r1 = st.compare(a, b, "top-1")
        rr = st.compare(a, b, "rarest ⅓ macro")
        if r1 is None or rr is None:
            continue
        rows.append({"family": fam, "label": label, "a": a, "b": b, "top1": r1, "rare": rr})
    adj = holm([r[k]["p"] for r in rows for k in ("top1", "rare")])
    for i, r in enumerate(rows):
        r["top1"]["p_holm"], r["rare"]["p_holm"] = adj[2 * i], adj[2 * i + 1]
    return lines, rows


def comparison_table(rows: list[dict]) -> list[str]:
    out = ["| family | comparison (a vs b) | seeds | Δ test top-1, points [95% CI] | p (Holm) | McNemar p<0.05 "
           "(seeds) | Δ rarest ⅓ macro, points [95% CI] | p (Holm) |", "|" + "---|" * 8]
    for r in rows:
        mc = r["top1"].get("mcnemar", [])
        out.append(f"| {r['family']} | {r['label']} | {r['top1']['n_seeds']} | {_fmt(r['top1'], True)} | "
                   f"{r['top1']['p_holm']:.3g} | {sum(p < 0.05 for p in mc)}/{len(mc)} | {_fmt(r['rare'], True)} | "
                   f"{r['rare']['p_holm']:.3g} |")
    return out


def alpha_table(st: Stats, backbone: str) -> list[str]:
    main = P.PLACEMENTS[backbone][0]
    out = ["| QMW α | seeds | val top-1 [95% CI] |", "|---|---|---|"]
    for a in (0.1, 0.25, 0.5):
        cell = P.Arm("", main, "qmw", alpha=a).cell
        if cell in st.cells:
            r = hierarchical_bootstrap(st.hits(cell, split="val"), st.val_y, None, st.n_boot)
            out.append(f"| {a:g} | {len(st.cells[cell].seeds)} | {_fmt(r)} |")
    return out if len(out) > 2 else []


def verdict(row: dict | None, key: str = "top1") -> str:
    if row is None:
        return "not measured yet (arms missing)"
    r = row[key]
    d = f"Δ {_fmt(r, True)} points, Holm p = {r['p_holm']:.3g}, {r['n_seeds']} seeds"
    if r["p_holm"] < 0.05:
        return d + (" — a is better" if r["mean"] > 0 else " — a is worse")
    return d + " — no difference shown"


def write(out: str | Path, size: str = "here", backbone: str = "doodlenet", seeds=P.SEEDS, n_boot: int = 2000) -> None:
    out = Path(out)
    cells, refs = load(out)
    total = len(P.grid(size, backbone, seeds))
    finished = sum(len(c.seeds) for c in cells.values())
    secs = [s["metrics"].get("cpu_seconds", s["metrics"]["wall_seconds"]) for c in cells.values()
            for s in c.seeds.values()]
    per_arm = float(np.mean(secs)) if secs else float("nan")
    basis = "measured CPU time per finished arm"
    tfile = out / "timing.json"
    if not secs and tfile.exists():
        t = json.loads(tfile.read_text())
        per_arm = t["here_upper_bound_cpu_hours"] * 3600 / t["here_arms"]
        basis = "no arm finished yet; upper bound per arm from the timing run below"
    sz = P.SIZES[size]
    partial = finished < total
    renders_txt = f", plus {sz['renders']} random renders per seed" if sz["renders"] else ""
    head = [f"# Classifier ablation, protocol v2 ({size}, {backbone})", ""]
    if partial:
        head += [f"**PARTIAL: {finished} of {total} arms finished.** Tables below cover only those; a comparison "
                 "appears once both of its cells have at least one common seed, and its seed count is shown. With 1 "
                 "seed an interval holds test-sampling variance only (no seed variance): read those as provisional.", ""]
    proto = [
        "## Protocol", "",
        f"- Setting: long-tailed (CIFAR-LT profile, nominal imbalance ratio 100), the subsample **re-drawn per seed**; "
        f"seeds {', '.join(map(str, seeds))} (also the LoRA init, batch order{', random renders' if sz['renders'] else ''}).",
        f"- Training: at most {sz['max_epochs']} epochs, early stopping after {sz['patience']} epochs without a better "
        "val top-1; the best val epoch is kept; test is evaluated once, after selection. AdamW, batch 128, LoRA lr 2e-3, "
        "head lr 1e-3, cosine schedule over the maximum epochs with 5% warm-up, weight decay 1e-4.",
        f"- Inputs: the reference rendering of each train drawing, file formats `{sz['formats']}` (with both, a "
        f"class's sample count n is ≈ 2× its drawings){renders_txt}; "
        "val/test: unseen drawings, reference rendering, as in serving.",
        "- Loss: the named classification loss on the two-tower logits (cross-entropy against fixed class-prompt "
        "embeddings, i.e. CLIP's image→text direction, not the symmetric CLIP loss) **plus** 4·KL(teacher‖student) "
        "(distillation weight 1, T = 2, to DoodleNet's own head) unless the arm says no distillation. QMW α = 0.25 "
        "unless stated; qmw-source-norm divides the source's weights by their batch mean (the loss-scale control).",
        "- What trains: `lora+head` (LoRA and the projections), `head` (projections only: the head-only control), "
        "`lora` (LoRA only, projections frozen at their DoodleNet init). Projections start from DoodleNet's head "
        "(identity image projection, text projection fitted to the head's rows).",
        "- Budgets: LoRA at the backbone's reference budget (dense, rank 8: 8,704 parameters) for every placement, each "
        "layer's rank capped at its maximum useful rank min(fan-in, out); one arm sizes LoRA-only to the head's "
        "parameter count. The table prints each arm's counts.",
        "- Statistics: each cell is the seed mean; intervals are 95% percentile intervals of a hierarchical "
        f"bootstrap ({n_boot} replicates: seeds with replacement × test drawings with replacement within class). "
        "Comparisons are paired by seed on the same test drawings; p-values are two-sided bootstrap p-values, "
        "Holm-corrected over every comparison × both metrics in the table; McNemar (exact) per seed on top-1 is "
        "shown as a count of seeds with p < 0.05. The rarest third of classes is by mean training count.",
        f"- Size: {total} arms; {basis}: {per_arm:.0f} s CPU (process time, so the shared "
        f"machine's load does not inflate it) → ≈ {total * per_arm / 3600:.1f} h CPU for this grid, "
        f"≈ {len(P.grid('full', backbone, seeds)) * per_arm * 4 / 3600:.0f} h CPU for the full protocol "
        "(~4× per arm for 2 renders and 2× epochs, natural data 2× larger; a GPU divides it by ~10).",
        *timing_lines(out, size),
        "", "Commands:", "", "```",
        f"sketchref ablation classifier --protocol v2 --size {size}" + (f" --backbone {backbone}" if backbone != "doodlenet" else ""),
        f"sketchref ablation classifier --protocol v2 --size {size} --report-only   # this report, from arms/ alone",
        "sketchref ablation classifier --protocol v2 --size full                  # documented, not run here",
        "sketchref ablation classifier --protocol v2 --backbone clip --model openai/clip-vit-base-patch32  # needs weights",
        "```", ""]
    if not cells and not refs:
        (out / "README.md").write_text("\n".join(head + proto + ["No arm has finished yet."]) + "\n")
        (out / "conclusion.md").write_text("\n".join(head + ["No arm has finished yet.", ""]
                                                      + conclusion([], backbone)) + "\n")
        return
    st = Stats(cells, refs, n_boot)
    table, rows = build_tables(st, backbone)
    body = ["## Cells", "", *table, "", "## Comparisons", "", *comparison_table(rows), ""]
    at = alpha_table(st, backbone)
    if at:
        body += ["## QMW α sensitivity (val only)", "", *at, ""]
    appendix = []
    if V1_README.exists() and out.resolve() != V1_README.parent.resolve():
        appendix = ["## Appendix: protocol v1 (1 epoch, fixed subsample; superseded)", "",
                    "Copied from `reports/classifier/README.md` (the v1 run's own report, kept as its record).", ""]
        v1 = V1_README.read_text().splitlines()
        while v1 and (v1[0].startswith(">") or not v1[0].strip()):  # its pointer to this report
            v1 = v1[1:]
        appendix += [("#" + ln if ln.startswith("#") else ln) for ln in v1]
    (out / "README.md").write_text("\n".join(head + proto + body + appendix) + "\n")
    (out / "conclusion.md").write_text("\n".join(head + conclusion(rows, backbone)) + "\n")


def timing_lines(out: Path, size: str) -> list[str]:
    """The upper bound measured by ``scripts/time_protocol_v2_arm.py`` (``timing.json``), if present."""
    f = out / "timing.json"
    if size != "here" or not f.exists():
        return []
    t = json.loads(f.read_text())
    per = ", ".join(f"{k} {v:.1f} s" for k, v in t["cpu_seconds_per_epoch"].items())
    return [f"- Timing before launch (`scripts/time_protocol_v2_arm.py`, process CPU time, 1 thread, machine load "
            f"{t['load_average'][0]:.0f} on {t['cpus']} cores): per epoch {per}; the {t['here_arms']} arms at their "
            f"maximum {t['max_epochs']} epochs are ≤ {t['here_upper_bound_cpu_hours']:.1f} h CPU (early stopping "
            "only shortens it)."]


def conclusion(rows: list[dict], backbone: str) -> list[str]:
    by = {r["label"]: r for r in rows}
    main = P.PLACEMENTS[backbone][0]
    lines = ["## The source's three claims", "",
             "1. **\"LoRA on the MLP (not attention) is the best placement.\"** The claim is about a pretrained "
             "CLIP image transformer. " + {
                 "doodlenet": "DoodleNet has no attention, so here only conv-vs-dense placements are measured "
                              "(not the claim):",
                 "minilm-text": "**PROXY, not the claim:** attention vs MLP LoRA on the MiniLM *text* tower "
                                "(the prompt side), DoodleNet's image features frozen:"}.get(backbone, "Measured:")]
    for fam_row in [r for r in rows if r["family"] == "placement"]:
        lines.append(f"   - {fam_row['label']}: {verdict(fam_row)}")
    if backbone != "clip":
        lines.append("   - Attention vs MLP on CLIP: **untested here** (no CLIP weights, no GPU); the same protocol "
                     "runs with `--backbone clip --model <hub id or folder>` (tested end to end on a tiny random "
                     "CLIP only).")
    if backbone == "doodlenet":
        lines.append("   - Proxy for attention vs MLP: LoRA on the MiniLM text tower (prompt side), "
                     "`sketchref ablation classifier --protocol v2 --backbone minilm-text` → "
                     "`reports/classifier/v2-minilm-text/` (a proxy, not the claim; " + _minilm_state() + ")")
    lines += ["",
              "2. **\"QMW beats CE and logit adjustment.\"**"]
    for label in ("qmw vs ce", "qmw vs logit-adjusted", "qmw-source vs ce", "qmw-source-norm vs ce",
                  "qmw-source vs qmw-source-norm (loss scale)", "logit-adjusted vs ce"):
        lines.append(f"   - {label}: {verdict(by.get(label))}; rarest ⅓: "
                     f"{verdict(by.get(label), 'rare') if label in by else '–'}")
    lines += ["", "3. **\"Focal loss helps the bottom classes\" (detector).** Not part of this classifier run: "
              + _detector_state(), "", "## Controls", ""]
    for r in rows:
        if r["family"] in ("what trains", "distillation", "starting points"):
            lines.append(f"- {r['label']}: {verdict(r)}")
    lines += ["", f"Main placement: `{main}`. Cells, intervals and the protocol: [README.md](README.md)."]
    return lines


def _minilm_state() -> str:
    """How far the MiniLM proxy has got, from its committed files (reports/classifier/v2-minilm-text/)."""
    from .protocol_v2 import grid

    root = Path(__file__).resolve().parents[2] / "reports" / "classifier" / "v2-minilm-text"
    if (root / "README.md").exists():
        return "see that report for what ran)."
    arms = [a.name for a in grid(backbone="minilm-text")]
    done = sum((root / "arms" / name / "metrics.json").exists() for name in arms)
    return (f"under way: {done} of {len(arms)} arms finished, too few to compare, "
            "so the proxy is **untested** so far).")


def _detector_state(root: Path | None = None) -> str:
    """Where the detector's protocol v2 stands, from its committed files (reports/detector/v2/)."""
    root = root or Path(__file__).resolve().parents[2] / "reports" / "detector" / "v2"
    comparison = root / "comparison.json"
    if comparison.exists():
        res = json.loads(comparison.read_text())
        parts = [f"{k}: {100 * r['mean']:+.1f} points [{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}], Holm p = "
                 f"{r['p_holm']:.3g}" for k, r in res.items()]
        rare = res.get("rarest third recall", {})
        if rare.get("lo", 0) > 0 and rare.get("p_holm", 1) < 0.05:
            verdict = "**supported**: focal raises the rarest third's recall"
        elif rare.get("hi", 0) < 0 and rare.get("p_holm", 1) < 0.05:
            verdict = "**contradicted**: focal lowers the rarest third's recall"
        else:
            verdict = "**not supported**: the rarest third's interval includes no change"
        return ("focal − BCE at val-chosen settings and thresholds, 5 seeds (`reports/detector/v2/`): "
                + "; ".join(parts) + f". The claim is {verdict} (`reports/detector/README.md`).")
    from training.detector.protocol_v2 import SEEDS, total_runs

    done = sum(1 for d in root.glob("*/result.json")) if root.exists() else 0
    if (root / "chosen.json").exists():  # tuning over (widening included): the seed runs are what is left
        tuned = sum(1 for d in root.glob(f"*-s{SEEDS[0]}/result.json"))
        total = f"{tuned + 2 * (len(SEEDS) - 1)}"
    else:
        total = f"at least {total_runs()}"
    return (f"its val-tuned, val-thresholded 5-seed protocol (`python -m training.detector.protocol_v2`, "
            f"`reports/detector/README.md`) is under way ({done} of {total} runs finished; "
            "settings chosen on val scenes only): "
            "**untested** so far beyond v1's 2 seeds.")
