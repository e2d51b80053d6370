"""The one model-card writer, and the classifier adapter's card written through it."""

from __future__ import annotations

import json

import numpy as np

from training.classifier.card import write_adapter_card
from training.model_card import LICENCES, write_card


def test_card_json_and_markdown_say_the_same(tmp_path):
    card = write_card(tmp_path / "m", name="M", summary="Finds things.", data="Some data.", config={"a": 1},
                      metrics={"top1": 0.5}, licences=["quickdraw", "other"], reproduce="make it",
                      sections={"Limits": "Not for photos."}, extra={"version": "v1"})
    saved = json.loads((tmp_path / "m" / "card.json").read_text())
    assert saved == card and saved["version"] == "v1"
    assert saved["licences"] == [LICENCES["quickdraw"], "other"]
    md = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    for part in ("# M", "Finds things.", "## Data", '"a": 1', '"top1": 0.5', "## Limits", "Not for photos.",
                 "make it", "- " + LICENCES["quickdraw"]):
        assert part in md, part


def test_adapter_card(tmp_path):
    adapter = tmp_path / "lora-x"
    adapter.mkdir()
    (adapter / "config.json").write_text(json.dumps({
        "backbone": "doodlenet", "placement": "dense", "rank": 8,
        "train": {"loss": "qmw", "distill": 1.0, "renders": 1}}))
    (adapter / "metrics.json").write_text(json.dumps({
        "val": {"n": 10, "top1": 0.6, "top5": 0.9, "macro": 0.55}, "params": {"lora": 8704, "head": 1},
        "train_drawings": 100, "train_samples": 200}))
    y = np.array([0, 0, 1, 1])
    top5 = np.array([[0, 1, 2, 3, 4], [1, 0, 2, 3, 4], [1, 0, 2, 3, 4], [2, 1, 0, 3, 4]])
    np.savez(adapter / "predictions.npz", test_y=y, test_top5=top5)
    card = write_adapter_card(adapter, tmp_path / "out", baseline={"was": "v0"})
    t = card["metrics"]["test_direct"]
    assert (t["n"], t["top1"], t["top5"], t["macro"]) == (4, 0.5, 1.0, 0.5)
    assert card["adapter"] == {"placement": "dense", "rank": 8, "trainable_parameters": {"lora": 8704, "head": 1}}
    assert card["replaces"] == {"was": "v0"} and card["version"] == "lora-x"
    md = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "top-1 0.500 (95% CI" in md and "LoRA adapter at `dense` (rank 8" in md and "replaces" in md
