"""``sketchref ablation classifier --protocol v2`` end to end on tiny data: DoodleNet (resume, report)
and a tiny random CLIP through the same protocol (``--backbone clip --model <folder>``)."""

import json
from pathlib import Path

from cli.main import main
from tests.classifier.tiny_clip import make_tiny_clip
from tests.classifier.tiny_minilm import make_tiny_minilm


def _arms(out: Path) -> set[str]:
    return {p.parent.name for p in (out / "arms").glob("*/predictions.npz")}


def test_tiny_protocol_resumes_and_reports(tmp_path, capsys):
    out, runs = tmp_path / "report", tmp_path / "runs"
    common = ["ablation", "classifier", "--protocol", "v2", "--tiny", "--out", str(out), "--runs", str(runs)]
    assert main([*common, "--limit", "2"]) == 0
    first = _arms(out)
    assert {"start", "teacher"} <= first and len(first - {"start", "teacher"}) == 2
    m = json.loads((out / "arms" / "longtail-dense-lorahead-ce-s0" / "metrics.json").read_text())
    assert m["params"]["lora"] == 8704 and m["params"]["head"] > 0 and m["config"]["longtail_seed"] == 0
    assert m["epochs_run"] <= m["max_epochs"] == 2 and m["cpu_seconds"] > 0
    capsys.readouterr()
    assert main([*common, "--limit", "1"]) == 0  # resumes: the two finished arms are skipped
    text = capsys.readouterr().out
    assert "2 done" in text and text.count("LoRA rank") == 1
    assert len(_arms(out)) == len(first) + 1
    readme = (out / "README.md").read_text()
    assert "PARTIAL: 3 of 22 arms finished" in readme and "| dense | lora+head | ce |" in readme
    assert "Holm" in readme and "[" in readme
    conclusion = (out / "conclusion.md").read_text()
    assert "untested here" in conclusion and "logit-adjusted vs ce" in conclusion
    # the report is rebuilt from the arms alone, identically
    before = readme
    assert main([*common, "--report-only"]) == 0
    assert (out / "README.md").read_text() == before


def test_clip_backbone_runs_the_same_protocol(tmp_path, capsys):
    clip = make_tiny_clip(tmp_path / "tiny-clip")
    out = tmp_path / "report"
    assert main(["ablation", "classifier", "--protocol", "v2", "--tiny", "--backbone", "clip", "--model", str(clip),
                 "--out", str(out), "--runs", str(tmp_path / "runs"), "--limit", "3"]) == 0
    arms = _arms(out)
    assert "longtail-attn-qkvo-lorahead-ce-s0" in arms and "start" in arms
    m = json.loads((out / "arms" / "longtail-attn-qkvo-lorahead-ce-s0" / "metrics.json").read_text())
    assert m["config"]["backbone"] == "clip" and m["params"]["lora"] > 0
    readme = (out / "README.md").read_text()
    assert "protocol v2 (tiny, clip)" in readme and "| attn-qkvo | lora+head |" in readme


def test_minilm_text_proxy_runs_the_placement_grid(tmp_path):
    """The proxy's grid on a tiny random text tower (``--model``): the real MiniLM's forward passes over
    all 1,380 class prompts at every step took ~100 s of this test for nothing it checks."""
    tower = make_tiny_minilm(tmp_path / "tiny-minilm")
    out = tmp_path / "report"
    assert main(["ablation", "classifier", "--protocol", "v2", "--tiny", "--backbone", "minilm-text",
                 "--model", str(tower), "--out", str(out), "--runs", str(tmp_path / "runs"), "--limit", "1",
                 "--seeds", "0"]) == 0
    m = json.loads((out / "arms" / "longtail-attn-lorahead-ce-s0" / "metrics.json").read_text())
    # rank 4 on query/key/value/attention-output of 2 layers of width 32: 2 * 4 * (32 + 32) * 4
    assert m["config"]["backbone"] == "minilm-text" and m["params"]["lora"] == 2048
    assert "PROXY, not the claim" in (out / "conclusion.md").read_text()
