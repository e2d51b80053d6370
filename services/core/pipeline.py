"""The recognition core: one sketch image in, every object found, labelled and given references out.

Each stage is a pure function over already-loaded models (``detect``, ``classify``, ``recommend``);
the Celery workers call exactly these, one stage per queue, and the embedded mode (``sketchref
recognize``) chains them in-process through :class:`Recognizer`. Models are imported lazily so this
module stays importable without torch (the gateway only uses the contracts around it).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from PIL import Image

from .contracts import DetectedObject, ImageInfo, Label, Timings
from .imaging import load_image
from .ink_boxes import fit_to_ink
from .preprocess import STATS_KEY, SketchStats, clean_sketch


def image_info(data: bytes, gray: Image.Image) -> ImageInfo:
    return ImageInfo(width=gray.width, height=gray.height, sha256=hashlib.sha256(data).hexdigest())


def load_sketch(source) -> Image.Image:
    """Decode (colour kept) and clean: the image every model stage works on (see :func:`clean_sketch`)."""
    return clean_sketch(load_image(source, flatten=False))


def detect(gray: Image.Image, detector) -> list[DetectedObject]:
    """Boxes in input pixels, most confident first; no labels yet. ``gray`` is cleaned first unless
    it already is (:func:`load_sketch` output). Each box is grown to the ink it cuts
    (:func:`fit_to_ink`: a box is the ink extent of its drawing)."""
    clean = clean_sketch(gray)
    return _objects(clean, detector.detect(clean))


def detect_many(grays: list[Image.Image], detector) -> list[list[DetectedObject] | Exception]:
    """:func:`detect` of several sketches through one batched model call where the detector has one
    (``detect_many``); each sketch's result, or its own exception (one bad input fails alone)."""
    from .batching import run_isolated

    def many(cleans):
        return [_objects(c, found) for c, found in zip(cleans, detector.detect_many(cleans), strict=True)]

    def one(clean):
        return _objects(clean, detector.detect(clean))

    cleans = run_isolated(grays, lambda gs: [clean_sketch(g) for g in gs], clean_sketch)
    ok = [i for i, c in enumerate(cleans) if not isinstance(c, Exception)]
    found = run_isolated([cleans[i] for i in ok], many if hasattr(detector, "detect_many") else
                         (lambda cs: [one(c) for c in cs]), one)
    out: list = list(cleans)
    for i, f in zip(ok, found, strict=True):
        out[i] = f
    return out


def _objects(clean: Image.Image, found) -> list[DetectedObject]:
    boxes = fit_to_ink(clean, [box for box, _, _ in found])
    return [DetectedObject(box=box, score=score, detector_label=label)
            for box, (_, score, label) in zip(boxes, found, strict=True)]


ClassifyJob = tuple  # (gray, objects, top_k) or (gray, objects, top_k, strokes): see classify


def classify_many(jobs: list[ClassifyJob], classifier) -> list[list[DetectedObject] | Exception]:
    """:func:`classify` of several sketches ``[(gray, objects, top_k[, strokes]), ...]``: all their
    boxes through one model call where the classifier has ``classify_many``; each job's objects, or
    its exception."""
    from .batching import run_isolated

    def one(job):
        return classify(*job[:2], classifier, *job[2:])

    if not hasattr(classifier, "classify_many"):
        return run_isolated(jobs, lambda js: [one(j) for j in js], one)

    def many(js):
        cleans = [clean_sketch(j[0]) for j in js]
        ranked = classifier.classify_many([(c, [o.box for o in j[1]], j[2]) for c, j in zip(cleans, js, strict=True)])
        return [_labelled(c, j[1], classifier, r, j[2], j[3] if len(j) > 3 else None)
                for c, j, r in zip(cleans, js, ranked, strict=True)]

    return run_isolated(jobs, many, one)


def classify(gray: Image.Image, objects: list[DetectedObject], classifier, top_k: int = 5,
             strokes: dict | None = None) -> list[DetectedObject]:
    """Fill ``labels`` (sorted by calibrated score) of every object from its box in ``gray`` (cleaned
    first unless it already is) and ``confident``: the classifier is sure of its top label (its
    threshold, chosen on val) and the input looks like a sketch (a photo's objects are never
    confident: see :meth:`SketchStats.looks_like_photo`). With the sketch's ``strokes`` (``{"strokes":
    [[xs, ys], ...], "stroke_width": w}`` in its pixels, in drawing order), a box around drawings drawn
    one after the other is cut into them where the classifier is surer of each (:func:`split_by_strokes`)."""
    clean = clean_sketch(gray)
    ranked = classifier.classify(clean, [o.box for o in objects], top_k=top_k)
    return _labelled(clean, objects, classifier, ranked, top_k, strokes)


def split_by_strokes(clean: Image.Image, objects: list[DetectedObject], ranked: list, classifier, top_k: int,
                     strokes: dict) -> tuple[list[DetectedObject], list]:
    """Objects (and their ranked labels) with each box that holds several drawings, by the order of its
    strokes (:func:`services.core.stroke_groups.candidate_parts`), replaced by those drawings when the
    classifier prefers them (:func:`services.core.stroke_groups.prefer_parts`), and drawings whose
    strokes lie in no box added where the classifier is confident of them
    (:func:`services.core.stroke_groups.unboxed_runs`; ``detector_label`` ``"strokes"``, ``score`` 0:
    no detector found them). Every box is cut from the same clean sketch; each crop holds its own ink
    only (its neighbours' boxes are the other objects)."""
    from .stroke_groups import candidate_parts, prefer_parts, unboxed_runs

    drawn, width = strokes.get("strokes") or [], float(strokes.get("stroke_width") or 0.0)
    boxes = [o.box for o in objects]
    cands = candidate_parts(boxes, drawn, width)
    out_o, out_r = [], []
    for j, (o, r) in enumerate(zip(objects, ranked, strict=True)):
        if j in cands:
            alt = [b for i, b in enumerate(boxes) if i != j] + [list(p) for p in cands[j]]
            parts = classifier.classify(clean, alt, top_k=top_k)[len(boxes) - 1:]
            if r and all(parts) and prefer_parts(r[0][1], [p[0][1] for p in parts]):
                out_o += [o.model_copy(update={"box": [float(v) for v in p]}) for p in cands[j]]
                out_r += parts
                continue
        out_o.append(o)
        out_r.append(r)
    found = unboxed_runs([o.box for o in out_o], drawn, width, min(clean.size))
    if found:
        sure = _sure(classifier)
        boxes = [o.box for o in out_o]
        for b, labels in zip(found, classifier.classify(clean, boxes + [list(b) for b in found], top_k=top_k)[len(boxes):],
                             strict=True):
            if labels and sure(labels):
                out_o.append(DetectedObject(box=[float(v) for v in b], score=0.0, detector_label="strokes"))
                out_r.append(labels)
    return out_o, out_r


def _sure(classifier):
    """The classifier's "confident" test of a label list (its calibrated threshold), or a plain 0.5."""
    return getattr(classifier, "confident", lambda labels: bool(labels) and labels[0][1] >= 0.5)


def _labelled(clean: Image.Image, objects: list[DetectedObject], classifier, ranked, top_k: int = 5,
              strokes: dict | None = None) -> list[DetectedObject]:
    if strokes:
        objects, ranked = split_by_strokes(clean, objects, ranked, classifier, top_k, strokes)
    stats = clean.info.get(STATS_KEY)
    sketch = not (stats is not None and stats.looks_like_photo())
    sure = _sure(classifier)
    keep = resolve_parts([o.box for o in objects], [lab[0][1] if lab else 0.0 for lab in ranked])
    return [o.model_copy(update={"labels": [Label(label=n, score=s) for n, s in labels],
                                 "confident": sketch and sure(labels)})
            for i, (o, labels) in enumerate(zip(objects, ranked, strict=True)) if i in keep]


PART_INSIDE = 0.85  # a box this much inside another is a candidate part of it


def inside(b, a) -> float:
    """Share of box ``b``'s area inside box ``a``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max((b[2] - b[0]) * (b[3] - b[1]), 1e-6)


def iou(a, b) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def resolve_parts(boxes: list, label_scores: list[float], whole_margin: float = 0.0) -> set[int]:
    """Indices of the boxes to keep when the detector saw one drawing both whole and in parts.

    A box with others (almost) inside it is either one drawing of several pieces (binoculars, drums,
    a traffic light) or a box around several drawings. The classifier decides: the whole is kept and
    its parts dropped when its top label is at least as sure as every part's; else the parts are kept
    and the whole dropped (``whole_margin``: the whole also wins when it is at most this much less
    sure; 0 serves). Drawings that are merely near or overlapping are never inside each other."""
    keep = set(range(len(boxes)))
    order = sorted(range(len(boxes)), key=lambda i: -(boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
    for a in order:
        if a not in keep:
            continue
        parts = [b for b in keep if b != a and inside(boxes[b], boxes[a]) >= PART_INSIDE]
        if not parts:
            continue
        if label_scores[a] + whole_margin >= max(label_scores[b] for b in parts):
            keep -= set(parts)
        else:
            keep.discard(a)
    return keep


def recommend(objects: list[DetectedObject], recommender, n: int = 6, gray: Image.Image | None = None
              ) -> list[DetectedObject]:
    """Fill ``references`` of every object from its label (the user's pick, else the top label); when
    a provider has nothing for it (a small local gallery), from the next candidates (up to the third).
    ``references_label`` says which label the photos show (None: no candidate has any), so a photo
    of another candidate is never passed off as the object's."""
    out = []
    for o in objects:
        refs, shown = [], None
        if n > 0:
            crop = gray.crop(tuple(int(v) for v in o.box)) if gray is not None else None
            # a label the user picked comes first (its references follow the pick)
            names = ([o.picked_label] if o.picked_label else []) + [c.label for c in o.labels[:3]]
            for name in dict.fromkeys(names):
                refs = recommender.recommend(name, n=n, crop=crop)
                if refs:
                    shown = name
                    break
        out.append(o.model_copy(update={"references": refs, "references_label": shown}))
    return out


@dataclass
class Recognition:
    image: ImageInfo
    objects: list[DetectedObject]
    timings_ms: Timings = field(default_factory=Timings)


class Recognizer:
    """All three stages in one process. It receives its stages (any objects with the methods of
    :mod:`services.core.stages`); :func:`services.embedded.load_recognizer` loads the shipped ones."""

    def __init__(self, detector, classifier, recommender):
        self.detector, self.classifier, self.recommender = detector, classifier, recommender

    def recognize_many(self, sources: list[bytes], top_k: int = 5, references: int = 6,
                       strokes: list[dict | None] | None = None) -> list[Recognition | Exception]:
        """:meth:`recognize` over several sketches with the detector and the classifier batched across
        them (the same batch APIs the workers use); an unreadable input is its own exception.
        ``strokes``: for each source, the strokes it was drawn from, or None (see :func:`classify`)."""
        from .batching import run_isolated

        t0 = time.perf_counter()

        def decode(src):
            gray = clean_sketch(load_image(src, flatten=False))
            return gray, image_info(src, gray)

        decoded = run_isolated(sources, lambda ss: [decode(x) for x in ss], decode)
        ok = [i for i, d in enumerate(decoded) if not isinstance(d, Exception)]
        grays = [decoded[i][0] for i in ok]
        t1 = time.perf_counter()
        found = detect_many(grays, self.detector)
        t2 = time.perf_counter()
        drawn = [strokes[i] if strokes else None for i in ok]
        labelled = classify_many([(g, f, top_k, s) for g, f, s in zip(grays, found, drawn, strict=True)
                                  if not isinstance(f, Exception)], self.classifier)
        t3 = time.perf_counter()
        n = max(1, len(sources))
        ms = lambda a, b: round((b - a) * 1000 / n, 2)  # noqa: E731 - per image, shared batches
        out: list = list(decoded)
        it = iter(labelled)
        for i, g, f in zip(ok, grays, found, strict=True):
            objects = f if isinstance(f, Exception) else next(it)
            if not isinstance(objects, Exception):
                t = time.perf_counter()
                objects = recommend(objects, self.recommender, references, g)
                objects = Recognition(decoded[i][1], objects, Timings(
                    detect=ms(t1, t2), classify=ms(t2, t3), recommend=round((time.perf_counter() - t) * 1000, 2),
                    total=round(ms(t0, t3) + (time.perf_counter() - t) * 1000, 2)))
            out[i] = objects
        return out

    def recognize(self, source: bytes, top_k: int = 5, references: int = 6,
                  strokes: dict | None = None) -> Recognition:
        """One sketch through all stages; ``strokes``: what it was drawn from, if known (:func:`classify`)."""
        t0 = time.perf_counter()
        stats = SketchStats()
        gray = clean_sketch(load_image(source, flatten=False), stats)
        info = image_info(source, gray)
        self.last_stats = stats
        t1 = time.perf_counter()
        objects = detect(gray, self.detector)
        t2 = time.perf_counter()
        objects = classify(gray, objects, self.classifier, top_k, strokes)
        t3 = time.perf_counter()
        objects = recommend(objects, self.recommender, references, gray)
        t4 = time.perf_counter()
        ms = lambda a, b: round((b - a) * 1000, 2)  # noqa: E731
        return Recognition(info, objects, Timings(detect=ms(t1, t2), classify=ms(t2, t3),
                                                   recommend=ms(t3, t4), total=ms(t0, t4)))
