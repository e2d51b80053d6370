"""Draw the Grafana dashboard's panels as one PNG from a Prometheus server's data (no Grafana needed).

    python scripts/render_dashboard.py --prometheus http://127.0.0.1:9090 --minutes 5 --out docs/img/dashboard.png

Reads ``k8s/monitoring/dashboards/sketchref.json`` and runs each panel's own queries against the
Prometheus HTTP API (``query_range`` for time series, ``query`` for tables), laying the panels out by
their ``gridPos`` (24 columns). A query Prometheus refuses is an error: the PNG doubles as a check that
every query of the dashboard runs. ``scripts/dashboard_run.py`` makes the data with a short local run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "k8s" / "monitoring" / "dashboards" / "sketchref.json"
UNIT_SCALE = {"percentunit": (100.0, "%"), "s": (1000.0, "ms"), "reqps": (1.0, "/s"), "short": (1.0, "")}


def _legend(fmt: str, labels: dict) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"


def query(client: httpx.Client, expr: str, start: float, end: float, step: float, instant: bool = False) -> list:
    if instant:
        r = client.get("/api/v1/query", params={"query": expr, "time": end})
    else:
        r = client.get("/api/v1/query_range", params={"query": expr, "start": start, "end": end, "step": step})
    body = r.json()
    if body.get("status") != "success":
        raise ValueError(f"Prometheus refused {expr!r}: {body.get('error')}")
    return body["data"]["result"]


def render(prometheus: str, out: Path, minutes: float, end: float | None = None) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    d = json.loads(DASHBOARD.read_text())
    end = end or time.time()
    start, step = end - minutes * 60, max(5.0, minutes * 60 / 200)
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in d["panels"])
    fig = plt.figure(figsize=(18, rows * 0.42))
    gs = GridSpec(rows, 24, figure=fig, hspace=2.5, wspace=1.2)
    summary = {}
    with httpx.Client(base_url=prometheus, timeout=30) as client:
        for p in d["panels"]:
            g = p["gridPos"]
            ax = fig.add_subplot(gs[g["y"]:g["y"] + g["h"] - 1, g["x"]:g["x"] + g["w"]])
            ax.set_title(p["title"], fontsize=10, loc="left")
            scale, suffix = UNIT_SCALE.get(p["fieldConfig"]["defaults"].get("unit", "short"), (1.0, ""))
            series = 0
            if p["type"] == "table":
                rows_ = []
                for t in p["targets"]:
                    for s in query(client, t["expr"], start, end, step, instant=True):
                        labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
                        rows_.append([*labels.values(), s["value"][1]])
                        header = [*labels.keys(), "workers"]
                ax.axis("off")
                if rows_:
                    tab = ax.table(cellText=rows_, colLabels=header, loc="upper left", cellLoc="left")
                    tab.auto_set_font_size(False)
                    tab.set_fontsize(8)
                series = len(rows_)
            else:
                for t in p["targets"]:
                    for s in query(client, t["expr"], start, end, step):
                        xs = [(float(v[0]) - end) / 60 for v in s["values"]]
                        ys = [float(v[1]) * scale if v[1] not in ("NaN", "+Inf", "-Inf") else float("nan")
                              for v in s["values"]]
                        ax.plot(xs, ys, label=_legend(t.get("legendFormat", ""), s["metric"]), linewidth=1.4)
                        series += 1
                ax.set_xlim(-minutes, 0)
                ax.set_xlabel("minutes", fontsize=7)
                ax.tick_params(labelsize=7)
                if suffix:
                    ax.set_ylabel(suffix, fontsize=7)
                if series:
                    ax.legend(fontsize=6, loc="upper left", framealpha=0.6)
                else:
                    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="gray")
                ax.grid(alpha=0.3)
            summary[p["title"]] = series
    fig.suptitle(f"sketchref — {d['title']} dashboard, last {minutes:g} min (panels and queries of "
                 f"{DASHBOARD.relative_to(ROOT)})", fontsize=12, x=0.01, ha="left")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prometheus", default="http://127.0.0.1:9090")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    args = ap.parse_args(argv)
    summary = render(args.prometheus, args.out, args.minutes)
    for title, n in summary.items():
        print(f"{title:<36} {n} series")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
