"""``POST /v1/guess``: what is being drawn, answered at once, without a job (the app's live guesses).

Body: the strokes JSON of ``POST /v1/jobs`` (``strokes``, ``width``, ``height``, optional
``stroke_width``) plus an optional ``top_k`` (default 3, at most 10); validated by the same code as a
job's strokes. Answer (200):

    {"guesses": [{"label": "cat", "score": 0.71, "confident": true}, ...],
     "confident": true, "model": "guess-…", "timings_ms": {"guess": 14.2}}

The whole drawing is classified by the live-guess ONNX model (see :mod:`services.gateway.guess`);
no worker, queue or storage is involved. The strokes are drawn and normalised in the gateway's render
process pool (as a job's strokes are drawn), never in its own process; the model runs in a thread.
Rate limited per client on an allowance of its own (``SKETCHREF_GATEWAY_GUESS_RATE_LIMIT_PER_MINUTE``,
default 240; 429 ``rate_limited`` with ``Retry-After``).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.core.requests import StrokesBody

from ...deps import GuessRateLimitDep, SettingsDep
from ...errors import ApiError
from ...intake import parse_strokes, read_capped
from ...rendering import in_pool

router = APIRouter(tags=["guess"])
MAX_TOP_K = 10
# A live guess should cost little: a real drawing has a few thousand points; more is refused.
MAX_GUESS_POINTS = 20_000


class Guess(BaseModel):
    label: str
    score: float
    confident: bool


class GuessAnswer(BaseModel):
    guesses: list[Guess]
    confident: bool
    model: str
    timings_ms: dict[str, float]


def _parse(body: bytes, settings):
    """The validated strokes and top_k, and the model (422/413 as for POST /v1/jobs; 503 without a model)."""
    from ...guess import get_guess_model

    obj = parse_strokes(body, settings)  # the jobs' strokes model and limits
    points = sum(len(st[0]) for st in obj.strokes)
    if points > MAX_GUESS_POINTS:
        raise ApiError(413, "too_many_points", f"a live guess takes at most {MAX_GUESS_POINTS} points")
    top_k = min(obj.top_k if obj.top_k is not None else 3, MAX_TOP_K)  # at most MAX_TOP_K guesses
    try:
        model = get_guess_model()
    except (OSError, ImportError, KeyError, ValueError) as exc:
        raise ApiError(503, "guess_unavailable", "live guesses are not available on this server") from exc
    return obj, top_k, model


@router.post("/guess", response_model=GuessAnswer, summary="Guess what is being drawn (no job)",
             responses={429: {"description": "Over the per-client rate limit of guesses (see Retry-After)"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": StrokesBody.model_json_schema()}}}})
async def guess(request: Request, response: Response, settings: SettingsDep, _limited: GuessRateLimitDep
                ) -> Response:
    from ...guess import sketch_input

    t0 = time.perf_counter()
    body = await read_capped(request, settings.max_upload_bytes)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty: send strokes JSON")
    obj, top_k, model = await run_in_threadpool(_parse, body, settings)
    strokes = [[st[0], st[1]] for st in obj.strokes]  # timestamps stay here
    x = await in_pool(request.app, sketch_input, strokes, obj.width, obj.height, obj.resolved_stroke_width(),
                      model.norm)
    ranked = await run_in_threadpool(model.rank, x, top_k)
    answer = GuessAnswer(
        guesses=[Guess(label=lab, score=round(p, 4), confident=p >= model.threshold) for lab, p in ranked],
        confident=bool(ranked) and ranked[0][1] >= model.threshold, model=model.version,
        timings_ms={"guess": round((time.perf_counter() - t0) * 1000, 1)})
    out = Response(answer.model_dump_json(), media_type="application/json")
    out.headers.update(response.headers)  # RateLimit-* from the limiter
    return out
