"""``sketchref data fetch quickdraw --per-class N``: Google's simplified ndjson, train-split drawings only.

For each word, streams ``data/quickdraw/simplified/<word>.ndjson`` from its public URL (through
``SKETCHREF_ASSET_MIRROR`` when set: :func:`services.common.assets.public_url`) and keeps the first
``N`` drawings whose ``key_id`` falls in the **train** split (:func:`training.data.quickdraw.split_of`):
val and test key_ids are never written, so the held-out evaluation stays held out. The download stops
as soon as ``N`` are kept (Google's files are 10-200 MB a word).

Files land in ``<out>/<word>.ndjson`` through a ``.part`` file renamed when complete; ``manifest.json``
records each file's drawings, bytes and SHA-256 and the source URL. A rerun skips words whose file
matches its manifest entry (resume after an interruption; a corrupted or half-written file is fetched
again). Google publishes no checksums, so the SHA-256 guards what was written, not the transfer.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from services.common.assets import public_url
from services.common.model_registry import sha256_file

from .quickdraw import split_of


def fetch_word(word: str, per_class: int, out: Path, client: httpx.Client) -> dict:
    url = public_url(f"data/quickdraw/simplified/{word}.ndjson")
    part = out / f"{word}.ndjson.part"
    kept = 0
    with client.stream("GET", url) as r, open(part, "w", encoding="utf-8") as f:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.strip():
                continue
            d = json.loads(line)
            if split_of(d["key_id"]) != "train":
                continue
            f.write(json.dumps(d, separators=(",", ":")) + "\n")
            kept += 1
            if kept >= per_class:
                break
    final = out / f"{word}.ndjson"
    part.replace(final)
    return {"drawings": kept, "bytes": final.stat().st_size, "sha256": sha256_file(final), "url": url,
            "per_class": per_class}


def fetch_quickdraw(words: list[str], per_class: int, out: str | Path, progress: bool = True,
                    timeout: float = 60.0) -> dict:
    """Fetch (or resume) every word; returns the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mfile = out / "manifest.json"
    manifest = json.loads(mfile.read_text()) if mfile.exists() else {}
    todo = []
    for w in words:
        entry, f = manifest.get(w), out / f"{w}.ndjson"
        if entry and entry.get("per_class") == per_class and f.exists() and sha256_file(f) == entry["sha256"]:
            continue
        todo.append(w)
    from tqdm import tqdm

    with httpx.Client(follow_redirects=True, timeout=timeout) as client:
        for w in tqdm(todo, desc="quickdraw", unit="word", disable=not progress):
            manifest[w] = fetch_word(w, per_class, out, client)
            tmp = mfile.with_suffix(".tmp")
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            tmp.replace(mfile)  # after every word: an interrupted fetch resumes from here
    return manifest
