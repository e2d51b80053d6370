"""Summarise a load run: throughput and job latency percentiles from loadtest/locustfile.py's jobs.json.

    python loadtest/summary.py reports/load        # prints the summary, writes reports/load/summary.md
Exit status 1 when any job did not succeed (or none ran), so `make load` fails on lost work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def summarise(report_dir: Path, users: str = "?", duration: str = "?") -> tuple[str, bool]:
    data = json.loads((report_dir / "jobs.json").read_text())
    jobs = data["jobs"]
    wall = max(1e-9, (data["stopped"] or 0) - (data["started"] or 0))
    ok = [j["ms"] for j in jobs if j["status"] == "succeeded"]
    bad = [j for j in jobs if j["status"] != "succeeded"]
    lines = [
        "# Load test",
        "",
        f"{users} users, {duration}, against the local stack (`sketchref up`), "
        "draw → submit → poll like the phone app.",
        "",
        "| jobs | succeeded | failed | throughput (jobs/s) | job p50 (ms) | job p95 (ms) | job max (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if ok:
        p50, p95 = np.percentile(ok, [50, 95])
        lines.append(f"| {len(jobs)} | {len(ok)} | {len(bad)} | {len(ok) / wall:.2f} | {p50:.0f} | {p95:.0f} "
                     f"| {max(ok):.0f} |")
    else:
        lines.append(f"| {len(jobs)} | 0 | {len(bad)} | 0 | – | – | – |")
    if bad:
        kinds: dict[str, int] = {}
        for j in bad:
            kinds[j["status"]] = kinds.get(j["status"], 0) + 1
        lines += ["", "Not succeeded: " + ", ".join(f"{k} × {v}" for k, v in sorted(kinds.items()))]
    lines += ["", f"Measured over {wall:.1f} s of wall time. Locust's own tables: load_stats.csv, report.html."]
    return "\n".join(lines) + "\n", bool(ok) and not bad


def main(argv: list[str]) -> int:
    report_dir = Path(argv[0]) if argv else Path("reports/load")
    text, good = summarise(report_dir, *(argv[1:3] if len(argv) >= 3 else ()))
    (report_dir / "summary.md").write_text(text)
    print(text, end="")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
