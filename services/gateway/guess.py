"""Live guesses in the gateway: strokes -> the top-k labels, with no job, no queue and no torch.

The model is the shipped classifier (DoodleNet image tower + the trained projection head, with the
class embeddings folded in) exported once to ONNX by ``scripts/export_guess_model.py`` into
``models/guess/``; onnxruntime runs it on one CPU thread. The input goes through the project's one
preprocessing path, exactly as a job's object does: the strokes are rasterised by
:func:`services.core.rendering.render_strokes` (what the gateway stores for a job) and normalised by
:func:`services.core.preprocess.normalize_sketch`. For a drawing of one object the guess is
therefore the job classifier's answer on (nearly) the same crop.

Both steps hold the GIL for most of their time, so :func:`sketch_input` runs them in the gateway's
render process pool (:mod:`.rendering`, the pool that draws a job's strokes): the gateway's own
process only parses the request and runs the model (onnxruntime releases the GIL), and its event
loop keeps answering while a drawing is rendered.

A guess is ``confident`` when its top score reaches the threshold chosen on the val split and saved
in ``models/guess/config.json`` (the "not sure" line of the app).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from services.common.settings import ROOT

MODEL_DIR = ROOT / "models" / "guess"


@dataclass
class GuessModel:
    session: object  # onnxruntime.InferenceSession
    classes: list[str]
    norm: object  # services.core.preprocess.SketchNorm
    threshold: float
    version: str

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` float32 in [0, 1] -> ``(N, classes)`` softmax probabilities."""
        logits = self.session.run(None, {"sketch": x[:, None].astype(np.float32)})[0]
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def rank(self, x: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        """The ``top_k`` (label, probability) for one ``(28, 28)`` input; [] for a blank one."""
        if not x.any():
            return []
        p = self.probabilities(x[None])[0]
        idx = np.argsort(-p)[:top_k]
        return [(self.classes[i], float(p[i])) for i in idx]


def sketch_input(strokes: list, width: int, height: int, stroke_width: float, norm) -> np.ndarray:
    """Validated strokes -> the ``(28, 28)`` the model sees, through the one rendering and
    preprocessing path (picklable: it runs in the render process pool)."""
    from services.core.preprocess import normalize_sketch
    from services.core.rendering import render_strokes

    im = render_strokes(strokes, size=(width, height), stroke_width=stroke_width, margin=None)
    return normalize_sketch(im, norm=norm)


_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(model_dir: str) -> GuessModel:
    import onnxruntime as ort

    from services.core.preprocess import SketchNorm

    d = Path(model_dir)
    cfg = json.loads((d / "config.json").read_text())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a tiny CNN: one thread answers in about a millisecond
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(d / cfg["file"]), sess_options=opts, providers=["CPUExecutionProvider"])
    classes = [c for c in (d / "classes.txt").read_text().splitlines() if c.strip()]
    return GuessModel(session, classes, SketchNorm(**cfg["norm"]), float(cfg["threshold"]), cfg["version"])


def get_guess_model(model_dir: Path | str = MODEL_DIR) -> GuessModel:
    """The model, loaded once per process (the first guess pays for it, about 50 ms)."""
    with _lock:
        return _load(str(model_dir))


def warm_in_background(model_dir: Path | str = MODEL_DIR) -> threading.Thread:
    """Load the model (and the preprocessing's imports) in a thread at start-up, so the first person
    to draw does not wait for it. A missing model only means no guesses (the route answers 503).
    Join the thread before the process exits: one still inside ONNX Runtime's session constructor at
    interpreter exit aborts the process ("terminate called without an active exception")."""

    def run() -> None:
        try:
            from services.core.preprocess import normalize_sketch  # noqa: F401  (scipy, numpy)

            get_guess_model(model_dir)
        except Exception:  # noqa: BLE001 - reported by the route when a guess is asked for
            pass

    thread = threading.Thread(target=run, name="guess-warm", daemon=True)
    thread.start()
    return thread
