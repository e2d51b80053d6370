"""Strokes are drawn in a small pool of processes, never in the gateway's own process.

Pillow holds the GIL while it draws a line, so a costly drawing rendered in a thread would stop the
whole gateway (``/healthz`` included) for its duration. The pool's processes are started with
``spawn`` (no copy of the gateway's threads or sockets), import only :mod:`services.common.rendering`
and Pillow, and end with the gateway (their task pipe closes). The drawing itself is the project's
one rasteriser, :func:`services.common.rendering.render_strokes` (via ``intake.render_png``); the
cost of a drawing is capped before it gets here (``services.common.requests.check_strokes``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .errors import ApiError
from .intake import render_png

log = logging.getLogger("sketchref.gateway")
_lock = threading.Lock()


def render_pool(app) -> ProcessPoolExecutor:
    with _lock:
        pool = getattr(app.state, "render_pool", None)
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=max(1, app.state.settings.render_processes),
                                       mp_context=multiprocessing.get_context("spawn"))
            app.state.render_pool = pool
        return pool


def close_render_pool(app) -> None:
    with _lock:
        pool = getattr(app.state, "render_pool", None)
        app.state.render_pool = None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


async def render(app, args: tuple) -> bytes:
    """The PNG of ``render_png(*args)``, drawn in the pool; 503 when the pool broke (a process died:
    the next request gets a fresh pool)."""
    pool = render_pool(app)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, render_png, *args)
    except BrokenProcessPool as exc:
        log.error("a render process died; starting a new pool")
        with _lock:
            if getattr(app.state, "render_pool", None) is pool:
                app.state.render_pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        raise ApiError(503, "render_unavailable", "the sketch could not be drawn; try again",
                       headers={"Retry-After": "1"}) from exc
