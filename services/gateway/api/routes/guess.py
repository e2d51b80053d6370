"""``POST /v1/guess``: what is being drawn, answered at once, without a job (the app's live guesses).

Body: the strokes JSON of ``POST /v1/jobs`` (``strokes``, ``width``, ``height``, optional
``stroke_width``) plus an optional ``top_k`` (default 3, at most 10); validated by the same code as a
job's strokes. Answer (200):

    {"guesses": [{"label": "cat", "score": 0.71, "confident": true}, ...],
     "confident": true, "model": "guess-…", "timings_ms": {"guess": 14.2}}

The whole drawing is classified by the live-guess ONNX model (see :mod:`services.gateway.guess`);
no worker, queue or storage is involved, so a guess costs a few milliseconds of one gateway thread.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.common.requests import StrokesBody

from ...deps import ApiKeyDep, SettingsDep
from ...errors import ApiError
from ...intake import parse_strokes, read_capped

router = APIRouter(tags=["guess"])
MAX_TOP_K = 10
# A guess is drawn in the gateway's own process (a job's sketch is drawn in the render pool): a real
# drawing has a few thousand points; more is refused rather than allowed to hold the process.
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


def _guess(body: bytes, settings) -> dict:
    from ...guess import get_guess_model

    t0 = time.perf_counter()
    obj = parse_strokes(body, settings)  # the jobs' strokes model and limits (422/413 as for POST /v1/jobs)
    points = sum(len(st[0]) for st in obj.strokes)
    if points > MAX_GUESS_POINTS:  # drawn in this process: keep a guess's drawing time small
        raise ApiError(413, "too_many_points", f"a live guess takes at most {MAX_GUESS_POINTS} points")
    top_k = min(obj.top_k if obj.top_k is not None else 3, MAX_TOP_K)  # at most MAX_TOP_K guesses
    try:
        model = get_guess_model()
    except (OSError, ImportError, KeyError, ValueError) as exc:
        raise ApiError(503, "guess_unavailable", "live guesses are not available on this server") from exc
    ranked = model.guess_strokes(obj.strokes, obj.width, obj.height, obj.resolved_stroke_width(), top_k)
    top_ok = bool(ranked) and ranked[0][1] >= model.threshold
    return {
        "guesses": [{"label": lab, "score": round(p, 4), "confident": p >= model.threshold} for lab, p in ranked],
        "confident": top_ok,
        "model": model.version,
        "timings_ms": {"guess": round((time.perf_counter() - t0) * 1000, 1)},
    }


@router.post("/guess", response_model=GuessAnswer, summary="Guess what is being drawn (no job)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": StrokesBody.model_json_schema()}}}})
async def guess(request: Request, key_scope: ApiKeyDep, settings: SettingsDep) -> dict:
    body = await read_capped(request, settings.max_upload_bytes)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty: send strokes JSON")
    return await run_in_threadpool(_guess, body, settings)
