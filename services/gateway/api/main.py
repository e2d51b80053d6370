"""The API routers: ``/v1`` for jobs, live guesses (and references, when that module exists), health and metrics."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

from .routes import guess, health, jobs, metrics, picks, version

v1 = APIRouter(prefix="/v1")
v1.include_router(jobs.router)
v1.include_router(version.router)
v1.include_router(guess.router)
v1.include_router(picks.router)


def _optional(name: str):
    """A route module another service adds later (its routes are declared without the /v1 prefix)."""
    full = f"{__package__}.routes.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        return None


_references = _optional("references")
if _references is not None:
    v1.include_router(_references.router)

api_router = APIRouter()
api_router.include_router(v1)
api_router.include_router(health.router)
api_router.include_router(metrics.router)
