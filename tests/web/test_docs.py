"""``/docs`` and ``/redoc`` render with the network cut off (every request that is not to the gateway is
aborted in the browser), from assets the gateway serves itself; and a setting turns them off."""

from __future__ import annotations

import httpx

from tests.services.stack import start_gateway

WAIT_MS = 30_000


def _offline_except(page, base: str) -> list[str]:
    """Abort every request that does not go to ``base``; answers the list of what was blocked."""
    blocked: list[str] = []

    def handle(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return blocked


def test_swagger_ui_and_redoc_render_offline(web_gateway, phone):
    page = phone
    blocked = _offline_except(page, web_gateway)
    page.goto(web_gateway + "/docs")
    # Swagger UI has read the gateway's OpenAPI document and lists its operations.
    page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/jobs").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".swagger-ui .opblock").count() >= 3
    assert "sketchref" in page.locator(".swagger-ui .title").first.inner_text()

    page.goto(web_gateway + "/redoc")
    page.get_by_text("/v1/jobs/{job_id}").first.wait_for(timeout=WAIT_MS)
    assert page.locator("h1", has_text="sketchref").count() >= 1
    assert blocked == [], blocked
    assert not page.errors, page.errors


def test_docs_setting_turns_them_off(web_env, web_gateway):
    p, url = start_gateway(web_env, SKETCHREF_GATEWAY_DOCS_ENABLED="false")
    try:
        with httpx.Client(base_url=url, timeout=10) as c:
            for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
                assert c.get(path).status_code == 404, path
            assert c.get("/healthz").status_code == 200
        with httpx.Client(base_url=web_gateway, timeout=10) as c:
            js = c.get("/docs-assets/swagger-ui-bundle.js")
            assert js.status_code == 200 and "javascript" in js.headers["content-type"]
            assert c.get("/openapi.json").json()["paths"]
    finally:
        p.stop()
