"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) that work with no internet: their assets come from the
PyPI package ``fastapi-offline`` (MIT; it ships Swagger UI, Apache-2.0, and ReDoc, MIT, unmodified) and
are served by the gateway under ``/docs-assets/``; FastAPI's own pages would load them from a CDN.

The pages have no inline script (a strict Content-Security-Policy can stay strict): Swagger UI is
started by a small same-origin script, and the pages carry their own CSP (:data:`DOCS_CSP`) so that
nothing is fetched from elsewhere (ReDoc would load its logo from its CDN). ``SKETCHREF_GATEWAY_DOCS_ENABLED=false`` turns off ``/docs``,
``/redoc`` and ``/openapi.json`` (see :func:`docs_kwargs`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
# Nothing of the docs pages may leave the gateway (ReDoc would fetch its logo from its CDN). Both
# libraries inject <style> at run time and ReDoc's search runs in a blob: worker.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")

SWAGGER_INIT = """// Starts Swagger UI on the gateway's own OpenAPI document (no inline script in /docs).
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""

_SWAGGER_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API docs</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="/icons/favicon-32.png">
</head>
<body data-openapi="{openapi}">
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API reference</title>
<link rel="icon" type="image/png" href="/icons/favicon-32.png">
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def assets_dir() -> Path:
    """Where the installed ``fastapi-offline`` keeps Swagger UI's and ReDoc's files."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def docs_kwargs(enabled: bool) -> dict:
    """Arguments for ``FastAPI(...)``: never FastAPI's CDN pages; no OpenAPI document when docs are off."""
    return {"docs_url": None, "redoc_url": None, **({} if enabled else {"openapi_url": None})}


def install(app: FastAPI, enabled: bool) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets when ``enabled`` (call before mounting ``/``)."""
    if not enabled or not app.openapi_url:
        return
    fill = {"title": app.title, "assets": ASSETS_URL, "openapi": app.openapi_url}

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER_HTML.format(**fill), headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC_HTML.format(**fill), headers={"Content-Security-Policy": DOCS_CSP})

    @app.get(f"{ASSETS_URL}/swagger-init.js", include_in_schema=False)
    def swagger_init() -> Response:
        return Response(SWAGGER_INIT, media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
