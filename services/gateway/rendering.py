"""Strokes are drawn in a small pool of processes, never in the gateway's own process.

Pillow holds the GIL while it draws a line, so a costly drawing rendered in a thread would stop the
whole gateway (``/healthz`` included) for its duration. The pool's processes are started with
``spawn`` (no copy of the gateway's threads or sockets) at a lower CPU priority, import only the
project's rendering and preprocessing (Pillow, numpy, scipy), and end with the gateway, even a
killed one (``PR_SET_PDEATHSIG``). The drawing itself is the project's one rasteriser,
:func:`services.core.rendering.render_strokes`: a job's sketch PNG (``intake.render_png``) and a
live guess's model input (``guess.sketch_input``, which also runs the one preprocessing) are both
made here. The cost of a drawing is capped before it gets here (``services.core.requests.check_strokes``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from .errors import ApiError
from .intake import render_png

log = logging.getLogger("sketchref.gateway")
_lock = threading.Lock()
T = TypeVar("T")


def _child_setup(parent_pid: int) -> None:
    """In each render process: yield the CPU to the gateway's own process (its event loop answers
    /healthz), and die with the gateway even when it is killed (Linux: PR_SET_PDEATHSIG)."""
    import os
    import signal

    try:
        os.nice(10)
    except OSError:
        pass
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed task pipe ends it instead
        pass
    if os.getppid() != parent_pid:  # the gateway died before the line above
        os._exit(0)


def render_pool(app) -> ProcessPoolExecutor:
    with _lock:
        pool = getattr(app.state, "render_pool", None)
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=max(1, app.state.settings.render_processes),
                                       mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_child_setup, initargs=(os.getpid(),))
            app.state.render_pool = pool
        return pool


def _warm() -> int:
    import services.core.preprocess  # noqa: F401  (scipy: loaded before the first live guess)
    import services.core.rendering  # noqa: F401  (Pillow, numpy: loaded before the first sketch)

    return multiprocessing.current_process().pid


def warm_render_pool(app) -> None:
    """Start the pool's processes now (at startup), so the first strokes request does not pay for
    spawning them; nothing waits for it."""
    pool = render_pool(app)
    for _ in range(max(1, app.state.settings.render_processes)):
        pool.submit(_warm)


def close_render_pool(app) -> None:
    with _lock:
        pool = getattr(app.state, "render_pool", None)
        app.state.render_pool = None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


async def in_pool(app, fn: Callable[..., T], *args) -> T:
    """``fn(*args)`` run in the pool (``fn`` and its arguments picklable); 503 when the pool broke (a
    process died: the next request gets a fresh pool)."""
    pool = render_pool(app)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
    except BrokenProcessPool as exc:
        log.error("a render process died; starting a new pool")
        with _lock:
            if getattr(app.state, "render_pool", None) is pool:
                app.state.render_pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        raise ApiError(503, "render_unavailable", "the sketch could not be drawn; try again",
                       headers={"Retry-After": "1"}) from exc


async def render(app, args: tuple) -> bytes:
    """The PNG of ``render_png(*args)``, drawn in the pool."""
    return await in_pool(app, render_png, *args)
