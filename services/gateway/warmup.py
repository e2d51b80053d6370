"""The gateway's first submission costs what the others do: its one-time costs are paid at start.

Measured on a fresh stack (``scripts/bench_throughput.py``), the first ``POST /v1/jobs`` took ~34 ms
against ~11 ms later: Celery builds its result backend and kombu declares the queue on the first
publish (26-43 ms alone, :func:`services.common.queue.warm_publisher`), the S3 client opens its
first connection, Starlette imports the multipart parser on the first form, Pillow loads its PNG
plugin on the first decode. :func:`warm` walks that path once, off the event loop, without creating
a job: it parses a multipart form holding a tiny PNG, checks and decodes it with the real intake
code, stores and deletes it under ``warmup/``, pings Redis (both clients), opens the long polls'
shared subscription (:mod:`.job_watch`) and warms the publisher.
Best effort: a dependency that is down now is the first request's problem (a 503), not start-up's.
"""

from __future__ import annotations

import io
import logging
import os
import time

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from services.common.queue import warm_publisher

from .intake import read_submission

log = logging.getLogger("sketchref.gateway")
_BOUNDARY = "sketchref-warmup"


def _tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, format="PNG")
    return buf.getvalue()


def _multipart_request(png: bytes) -> Request:
    body = (f"--{_BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"w.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{_BOUNDARY}--\r\n".encode()
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", f"multipart/form-data; boundary={_BOUNDARY}".encode()),
               (b"content-length", str(len(body)).encode())]
    return Request({"type": "http", "method": "POST", "path": "/v1/jobs", "headers": headers,
                    "query_string": b""}, receive)


def _store_and_forget(app: FastAPI, data: bytes) -> None:
    key = f"warmup/gateway-{os.getpid()}.png"
    app.state.storage.put(key, data, "image/png")
    app.state.storage.delete(key)


async def warm(app: FastAPI) -> None:
    t0 = time.perf_counter()
    steps = {}
    png = _tiny_png()

    async def step(name: str, coro_fn) -> None:
        try:
            await coro_fn()
            steps[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - logged; the first request pays instead
            steps[name] = type(exc).__name__

    async def intake() -> None:
        validate = await read_submission(_multipart_request(png), app.state.settings)
        sub = await run_in_threadpool(validate)
        try:
            if sub.decode is not None:
                await run_in_threadpool(sub.decode)
        finally:
            sub.release()

    async def redis() -> None:
        await run_in_threadpool(app.state.store.r.ping)
        await app.state.aredis.ping()

    async def long_poll() -> None:  # the shared subscription's connection and listener
        async with app.state.job_watch.watch(f"warmup:gateway-{os.getpid()}"):
            pass

    await step("intake", intake)
    await step("redis", redis)
    await step("long poll", long_poll)
    await step("storage", lambda: run_in_threadpool(_store_and_forget, app, png))
    await step("publisher", lambda: run_in_threadpool(warm_publisher, app.state.celery, ["detect"]))
    log.info("gateway warmed up in %.0f ms (%s)", (time.perf_counter() - t0) * 1000,
             ", ".join(f"{k} {v}" for k, v in steps.items()))
