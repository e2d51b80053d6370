"""``scripts/bench_throughput.py --quick --doubles`` runs end to end (stack, clients, in-process pool)
and writes its JSON report and plot; the figures themselves come from the full run, not from here."""

from __future__ import annotations

import importlib.util
import json
import sys

from services.common.settings import ROOT


def test_quick_throughput_bench_writes_its_report(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_throughput", ROOT / "scripts" / "bench_throughput.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_throughput"] = mod  # its 2-process pool pickles its functions by module name
    spec.loader.exec_module(mod)
    out = tmp_path / "throughput.json"
    assert mod.main(["--quick", "--doubles", "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert set(rep["services"]) == {"1", "4"}
    for row in rep["services"].values():
        assert row["failed"] == 0 and row["jobs_per_s"] > 0 and row["p95_ms"] >= row["p50_ms"]
        assert row["client_cpu_ms_per_job"] > 0
    assert rep["in_process"]["1"]["images_per_s"] > 0 and rep["in_process"]["2"]["images_per_s"] > 0
    assert rep["overhead_ms"]["ci95"][0] <= rep["overhead_ms"]["p50"] <= rep["overhead_ms"]["ci95"][1]
    assert rep["first_job"]["failed"] == 0 and rep["load_average_start"]
    assert (tmp_path / "throughput.png").stat().st_size > 1000
