"""The API's request models: one typed definition of every number a client sends.

``POST /v1/jobs`` takes either an image (multipart or raw) with the options ``top_k`` and
``references`` (query or form fields), or a strokes JSON body (:class:`StrokesBody`). Every numeric
field is parsed here, by pydantic, with finite bounds: NaN, infinities, ``1e400``, a 400-digit
integer, a string or a nested list where a number belongs is a validation error that names the field
(the gateway answers 422), never an overflow further down. The gateway's OpenAPI schema is generated
from these models, so it is exactly as strict as the server.

Checks that JSON Schema cannot express (xs and ys of a stroke of equal length, the total number of
points, a stroke lying entirely outside the canvas, the rendering cost) are :func:`check_strokes`;
they are documented in the schema's descriptions. The gateway imports this module; the recognition
core may too (it has no gateway import).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

MAX_STROKES = 2_000
MAX_POINTS = 100_000  # in all strokes together
MAX_CANVAS_SIDE = 4096
MAX_COORDINATE = 1_000_000.0  # |x|, |y| in canvas pixels (off-canvas strokes are refused anyway)
MIN_STROKE_WIDTH, MAX_STROKE_WIDTH = 0.5, 64.0
MAX_TOP_K = 50
MAX_REFERENCES = 30
DEFAULT_TOP_K = 5
DEFAULT_REFERENCES = 6
# The rendering-cost cap (see :func:`render_cost`): about 8 s of Pillow drawing on one core.
MAX_RENDER_COST = 8e9



def _integral(v):
    """JSON Schema counts 28.0 as an integer: so does the server (28.5, strings, booleans are not)."""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return v


Integral = BeforeValidator(_integral)
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Axis = Annotated[list[Coordinate], Field(min_length=1, max_length=MAX_POINTS)]
Stroke = Annotated[list[Axis], Field(min_length=2, max_length=3,
                                     description="[xs, ys] or [xs, ys, ts] (ts ignored); xs and ys of equal length")]
CanvasSide = Annotated[int, Field(ge=1, le=MAX_CANVAS_SIDE), Integral]
TopK = Annotated[int, Field(ge=1, le=MAX_TOP_K, description="labels per object"), Integral]
References = Annotated[int, Field(ge=0, le=MAX_REFERENCES, description="reference pictures per object"), Integral]
StrokeWidth = Annotated[float, Field(allow_inf_nan=False, ge=MIN_STROKE_WIDTH, le=MAX_STROKE_WIDTH)]


class StrokesBody(BaseModel):
    """A drawing as strokes in canvas pixels (Quick, Draw! raw format), and the job's options."""

    # strict: a string or a boolean where the schema says number is refused, as the schema says
    model_config = ConfigDict(extra="ignore", strict=True, json_schema_extra={"description": (
        f"At most {MAX_POINTS} points in all; every stroke must have as many xs as ys and touch the "
        f"width x height canvas (a stroke entirely outside it is refused); the rendering cost "
        f"(points x stroke width x canvas, see the README) is capped.")})

    strokes: Annotated[list[Stroke], Field(min_length=1, max_length=MAX_STROKES)]
    width: CanvasSide
    height: CanvasSide
    stroke_width: StrokeWidth | None = Field(default=None, description="default: max(width, height) / 160, at least 2")
    top_k: TopK | None = None
    references: References | None = None

    def resolved_stroke_width(self) -> float:
        if self.stroke_width is not None:
            return float(self.stroke_width)
        return max(2.0, round(max(self.width, self.height) / 160, 1))


class StrokesError(ValueError):
    """A body that passed the schema but breaks a cross-field rule; ``status``/``code`` for the API."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def render_cost(body: StrokesBody, supersample: int = 2) -> float:
    """About how many nanoseconds one core takes to draw ``body`` with :func:`render_strokes`
    (fitted on this project's dev machine: filling and resampling the supersampled canvas, a
    line-width disc at every joint, and the segments' length)."""
    import numpy as np

    lw = max(1.0, body.resolved_stroke_width() * supersample)
    points = length = 0.0
    for st in body.strokes:
        n = min(len(st[0]), len(st[1]))
        xs, ys = np.asarray(st[0][:n]), np.asarray(st[1][:n])
        points += n
        length += float(np.hypot(np.diff(xs), np.diff(ys)).sum())
    canvas = body.width * body.height * supersample * supersample
    return 35 * canvas + 20 * points * lw * lw + 250 * length * supersample


def check_strokes(body: StrokesBody, max_points: int = MAX_POINTS,
                  max_render_cost: float = MAX_RENDER_COST) -> None:
    """The rules the schema cannot state; raises :class:`StrokesError`."""
    total = 0
    r = body.resolved_stroke_width() / 2
    for i, st in enumerate(body.strokes):
        xs, ys = st[0], st[1]
        if len(xs) != len(ys):
            raise StrokesError(422, "invalid_strokes", f"strokes.{i}: xs and ys must have the same length")
        total += len(xs)
        if total > max_points:
            raise StrokesError(413, "too_many_points", f"at most {max_points} points in all")
        if min(xs) > body.width + r or max(xs) < -r or min(ys) > body.height + r or max(ys) < -r:
            raise StrokesError(422, "strokes_outside_canvas",
                               f"strokes.{i} lies entirely outside the {body.width}x{body.height} canvas")
    cost = render_cost(body)
    if cost > max_render_cost:
        raise StrokesError(413, "render_too_costly",
                           f"drawing these strokes would take about {cost / 1e9:.1f} s; the limit is "
                           f"{max_render_cost / 1e9:.1f} s (fewer points, a thinner stroke_width or a smaller canvas)")


def read_strokes_body(data: bytes) -> StrokesBody:
    """A strokes body from JSON, with every rule of :func:`check_strokes` (the embedded mode's checks;
    the gateway adds its own settings' limits); raises :class:`StrokesError` (422 ``invalid_strokes``
    naming the first bad field, or the rule's code)."""
    from pydantic import ValidationError

    try:
        body = StrokesBody.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise StrokesError(422, "invalid_strokes", f"{where + ': ' if where else ''}{first['msg']}") from exc
    check_strokes(body)
    return body


def classifier_strokes(body: StrokesBody) -> dict:
    """A strokes body's strokes as the classifier uses them: ``{"strokes", "stroke_width"}``."""
    return {"strokes": body.strokes, "stroke_width": body.resolved_stroke_width()}


def drawn_sketch(body: StrokesBody) -> tuple[bytes, dict]:
    """The sketch PNG a strokes body draws (the project's one renderer, as the gateway draws it) and
    its strokes as the classifier uses them (:func:`classifier_strokes`)."""
    from .rendering import sketch_png

    return sketch_png(body.strokes, body.width, body.height, body.resolved_stroke_width()), classifier_strokes(body)


TOP_K = TypeAdapter(TopK | None)
REFERENCES = TypeAdapter(References | None)
