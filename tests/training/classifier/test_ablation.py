"""The ablation grid end to end on a tiny subset: arms, resume, report with tables and plots."""

import json

import pytest

from training.classifier.ablation import main


@pytest.mark.slow
def test_tiny_grid_writes_the_report(tmp_path, capsys):
    runs, out = tmp_path / "runs", tmp_path / "report"
    args = ["--tiny", "--placements", "dense,conv-late", "--losses", "ce,qmw-source", "--seeds", "0,1",
            "--runs", str(runs), "--out", str(out)]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    for setting in ("natural", "longtail"):
        arms = results["settings"][setting]["arms"]
        assert len(arms) == 8 and {a["placement"] for a in arms} == {"dense", "conv-late"}
    assert results["settings"]["longtail"]["longtail"]["ir_nominal"] == 100
    md = (out / "README.md").read_text()
    assert "| dense | qmw-source |" in md and "qmw-source vs ce" in md and "conv-late vs dense" in md
    for name in ("accuracy_vs_frequency_natural.png", "confusions_worst_longtail.png"):
        assert (out / name).stat().st_size > 1000
    capsys.readouterr()
    assert main(args + ["--report-only"]) == 0  # everything done: nothing retrains
    assert "LoRA rank" not in capsys.readouterr().out
