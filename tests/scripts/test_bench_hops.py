"""``scripts/bench_hops.py`` runs end to end (its own Redis, three relay workers on the services' Celery
app) and writes its report; the figures come from the full run, not from here."""

from __future__ import annotations

import json
import subprocess
import sys

from services.common.settings import ROOT


def test_hops_bench_writes_its_report(tmp_path):
    out = tmp_path / "hops.json"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_hops.py"), "--runs", "3", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    rep = json.loads(out.read_text())
    assert list(rep["results"]) == ["0 KB", "8 KB", "32 KB"]
    for row in rep["results"].values():
        assert row["runs"] == 3 and 0 < row["p50_ms"] <= row["p90_ms"]
        assert abs(row["per_hop_ms"] * 3 - row["p50_ms"]) < 0.05
