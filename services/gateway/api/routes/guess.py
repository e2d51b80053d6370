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

import json
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...deps import ApiKeyDep, SettingsDep
from ...errors import ApiError
from ...intake import parse_strokes, read_capped

router = APIRouter(tags=["guess"])
MAX_TOP_K = 10


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
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    strokes, w, h, sw = parse_strokes(obj, settings)
    top_k = obj.get("top_k", 3) if isinstance(obj, dict) else 3
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ApiError(422, "invalid_request", f"top_k must be an integer from 1 to {MAX_TOP_K}")
    try:
        model = get_guess_model()
    except (OSError, ImportError, KeyError, ValueError) as exc:
        raise ApiError(503, "guess_unavailable", "live guesses are not available on this server") from exc
    ranked = model.guess_strokes(strokes, w, h, sw, top_k)
    top_ok = bool(ranked) and ranked[0][1] >= model.threshold
    return {
        "guesses": [{"label": lab, "score": round(p, 4), "confident": p >= model.threshold} for lab, p in ranked],
        "confident": top_ok,
        "model": model.version,
        "timings_ms": {"guess": round((time.perf_counter() - t0) * 1000, 1)},
    }


@router.post("/guess", response_model=GuessAnswer, summary="Guess what is being drawn (no job)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["strokes", "width", "height"], "properties": {
                     "strokes": {"type": "array", "description": "[[[x..],[y..]], ...] in canvas pixels",
                                 "items": {"type": "array", "items": {"type": "array",
                                                                      "items": {"type": "number"}}}},
                     "width": {"type": "integer"}, "height": {"type": "integer"},
                     "stroke_width": {"type": "number"}, "top_k": {"type": "integer", "default": 3}}}}}}})
async def guess(request: Request, key_scope: ApiKeyDep, settings: SettingsDep) -> dict:
    body = await read_capped(request, settings.max_upload_bytes)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty: send strokes JSON")
    return await run_in_threadpool(_guess, body, settings)
