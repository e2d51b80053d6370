"""The detector: YOLO over an area-downscaled greyscale sketch, boxes back in input pixels.

Inputs are shrunk with area averaging to the serving size (thin strokes stay visible; YOLO's own
resize would drop them), exactly as the training scenes were. Class-agnostic: every box is an
``object``; the classifier names it. (A model trained on class ids, ``--labels words``, labels its boxes
with its class names instead.)

Two runtimes read the same weights: PyTorch (``best.pt``) and ONNX Runtime (``best.onnx``, exported
from it with ultralytics' exporter by :func:`training.detector.bench.export_onnx`); the setting
``SKETCHREF_DETECTOR_RUNTIME=torch|onnx`` chooses. Both go through the same ultralytics pre- and
post-processing, so their boxes agree to rounding.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from .settings import DetectorSettings, get_detector_settings
from .ultralytics_env import configure_ultralytics

log = logging.getLogger(__name__)

Detection = tuple[tuple[float, float, float, float], float, str]


def downscale(gray: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    s = min(1.0, max_side / max(gray.size))
    if s >= 1.0:
        return gray, 1.0
    size = (max(1, round(gray.width * s)), max(1, round(gray.height * s)))
    return gray.resize(size, Image.Resampling.BOX), s


class Detector:
    def __init__(self, weights: str | Path, imgsz: int = 320, conf: float = 0.35, iou: float = 0.5,
                 max_objects: int = 30, device: str = "cpu", pads: tuple[float, ...] = (1.0,),
                 pad_margin: float = 0.0, threads: int = 0, spin: bool = True, keep_wholes: bool = False):
        configure_ultralytics()
        from ultralytics import YOLO

        self.weights = Path(weights)
        self.runtime = "onnx" if self.weights.suffix == ".onnx" else "torch"
        self.model = YOLO(str(weights), task="detect")
        self.imgsz, self.conf, self.iou, self.max_objects, self.device = imgsz, conf, iou, max_objects, device
        self.label = "object"
        self.pads = tuple(pads)
        self.pad_margin = pad_margin
        self.keep_wholes = keep_wholes
        self.threads, self.spin = threads, spin
        self._session_tuned = self.runtime != "onnx"
        names = dict(getattr(self.model, "names", None) or {})
        self.names = names if len(names) > 1 else {}

    def _input(self, gray: Image.Image, pad: float) -> tuple[np.ndarray, float, int, int]:
        """The model's input for one pass. ``pad`` > 1 first centres the sketch on a white canvas
        ``pad`` times larger. Also the scale and offsets that map its boxes back."""
        ox = oy = 0
        if pad > 1:
            canvas = Image.new("L", (round(gray.width * pad), round(gray.height * pad)), 255)
            ox, oy = (canvas.width - gray.width) // 2, (canvas.height - gray.height) // 2
            canvas.paste(gray, (ox, oy))
            gray_in = canvas
        else:
            gray_in = gray
        small, s = downscale(gray_in, self.imgsz)
        return np.repeat(np.asarray(small)[:, :, None], 3, axis=2), s, ox, oy

    def _run(self, rgbs: list[np.ndarray]):
        out = self.model.predict(rgbs if len(rgbs) > 1 else rgbs[0], imgsz=self.imgsz, conf=self.conf,
                                 iou=self.iou, agnostic_nms=True, max_det=self.max_objects, device=self.device,
                                 verbose=False)
        if not self._session_tuned:  # ultralytics built its session on this first call
            self._session_tuned = True
            self._tune_session()
        return out

    def _tune_session(self) -> None:
        """Rebuild ultralytics' ONNX Runtime session with our thread options (it passes none).

        ONNX Runtime's intra-op threads spin-wait for work, and by default keep spinning after a run
        has returned: measured here on a 320² input, 21.8 ms wall but 63 ms of CPU per detection
        (2 passes). Beside the other workers on the same cores that CPU is taken from them. Spinning
        only while a run lasts (``session.force_spinning_stop``) keeps the wall time (26.3 vs 27.2 ms
        in a noisier hour) at the CPU cost of no spinning at all (44.8 ms; 31.1 ms wall without
        spinning). ``spin`` False turns spinning off altogether; ``threads`` 0: one per core."""
        try:
            import onnxruntime as ort

            backend = self.model.predictor.model.backend
            old = backend.session
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(0, int(self.threads))
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
            opts.add_session_config_entry("session.force_spinning_stop", "1")
            backend.session = ort.InferenceSession(str(self.weights), sess_options=opts,
                                                   providers=old.get_providers())
        except Exception as exc:  # noqa: BLE001 - another ultralytics layout: keep its session
            log.warning("ONNX Runtime session kept with its default options: %s", exc)

    def _boxes(self, res, gray: Image.Image, s: float, ox: int, oy: int) -> list[Detection]:
        out: list[Detection] = []
        b = res.boxes
        for (x1, y1, x2, y2), score, c in zip(b.xyxy.tolist(), b.conf.tolist(), b.cls.tolist(), strict=True):
            box = (max(0.0, x1 / s - ox), max(0.0, y1 / s - oy),
                   min(float(gray.width), x2 / s - ox), min(float(gray.height), y2 / s - oy))
            label = self.names.get(int(c), self.label) if self.names else self.label
            out.append((tuple(round(v, 1) for v in box), round(float(score), 4), label))
        out.sort(key=lambda d: -d[1])
        return out

    def _predict(self, gray: Image.Image, pad: float) -> list[Detection]:
        rgb, s, ox, oy = self._input(gray, pad)
        return self._boxes(self._run([rgb])[0], gray, s, ox, oy)

    def batchable(self) -> bool:
        """Can one call take several images? PyTorch yes; an ONNX file only if exported with a dynamic
        batch axis (the shipped one has a fixed batch of 1)."""
        if self.runtime == "torch":
            return True
        try:
            import onnxruntime as ort

            sess = ort.InferenceSession(str(self.weights), providers=["CPUExecutionProvider"])
            return not isinstance(sess.get_inputs()[0].shape[0], int)
        except Exception:  # noqa: BLE001 - unknown: one at a time
            return False

    def _passes(self, grays: list[Image.Image], pad: float) -> list[list[Detection]]:
        """One pass over several sketches: one model call per distinct input shape (images of one shape
        are letterboxed exactly as alone, so batched boxes equal one-at-a-time boxes)."""
        inputs = [self._input(g, pad) for g in grays]
        if not getattr(self, "_batchable", None):
            self._batchable = (self.batchable(),)
        out: list[list[Detection]] = [[] for _ in grays]
        groups: dict[tuple, list[int]] = {}
        for i, (rgb, *_rest) in enumerate(inputs):
            groups.setdefault(rgb.shape if self._batchable[0] else (i,), []).append(i)
        for idx in groups.values():
            results = self._run([inputs[i][0] for i in idx])
            for i, res in zip(idx, results, strict=True):
                _, s, ox, oy = inputs[i]
                out[i] = self._boxes(res, grays[i], s, ox, oy)
        return out

    def detect_many(self, grays: list[Image.Image]) -> list[list[Detection]]:
        """:meth:`detect` of several sketches, each pass batched across them (cross-job batching)."""
        grays = [g.convert("L") for g in grays]
        per_pad = [self._passes(grays, pad) for pad in self.pads]
        return [self._choose([p[i] for p in per_pad]) for i in range(len(grays))]

    def _choose(self, passes: list[list[Detection]]) -> list[Detection]:
        best: list[Detection] = []
        best_mean = None
        for found in passes:
            mean = sum(d[1] for d in found) / len(found) if found else 0.0
            if best_mean is None or mean > best_mean + self.pad_margin:
                best, best_mean = found, mean
        if not self.keep_wholes:
            return best
        return best + wholes_of_parts(best, [d for found in passes if found is not best for d in found])

    def detect(self, gray: Image.Image) -> list[Detection]:
        """Boxes in input pixels, most confident first.

        With several ``pads`` the sketch is also seen shrunk on a larger white canvas. A later pass
        replaces the one kept so far only when its boxes are more confident on average by more than
        ``pad_margin``: a drawing that fills the whole image is seen in parts at full size (low
        scores) but whole when shrunk; a scene of several objects is seen best as it is, and the
        margin keeps it so when the shrunk pass is only a little surer. (Chosen on val-split scenes
        and single drawings.)
        """
        gray = gray.convert("L")
        return self._choose([self._predict(gray, pad) for pad in self.pads])


def wholes_of_parts(kept: list[Detection], others: list[Detection]) -> list[Detection]:
    """The boxes of ``others`` (another pass) that hold two or more ``kept`` boxes (almost) inside
    them and repeat none: one drawing that this pass saw whole and the kept pass in parts, or a box
    around several drawings. They are added beside the parts, and the pipeline's
    :func:`services.core.pipeline.resolve_parts` lets the classifier keep the whole or the parts."""
    from services.core.pipeline import PART_INSIDE, inside, iou

    out: list[Detection] = []
    for d in others:
        held = sum(inside(k[0], d[0]) >= PART_INSIDE for k in kept)
        if held >= 2 and not any(iou(k[0], d[0]) >= 0.5 for k in kept + out):
            out.append(d)
    return out


def load_detector(settings: DetectorSettings | None = None) -> Detector:
    from services.common.model_source import service_model_dir

    s = settings or get_detector_settings()
    model_dir = service_model_dir("detector", s)
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    imgsz = cfg.get("imgsz", s.imgsz)

    def chosen(field: str, key: str | None = None):
        """The setting when given explicitly, else the model's own value (chosen on val), else the default."""
        value = getattr(s, field)
        return value if field in s.model_fields_set else cfg.get(key or field, value)

    conf, margin, wholes = chosen("conf", "serving_conf"), chosen("pad_margin"), chosen("keep_wholes")
    weights = model_dir / s.weights
    if s.runtime == "onnx":
        onnx = weights.with_suffix(".onnx")
        if onnx.exists():
            weights = onnx
        else:
            log.warning("SKETCHREF_DETECTOR_RUNTIME=onnx but %s is missing: using PyTorch", onnx)
    elif s.runtime != "torch":
        raise ValueError(f"unknown detector runtime {s.runtime!r} (torch|onnx)")
    return Detector(weights, imgsz=imgsz, conf=conf, iou=s.iou, max_objects=s.max_objects, device=s.device,
                    pads=tuple(s.pads), pad_margin=margin, threads=s.threads, spin=s.spin,
                    keep_wholes=bool(wholes))
