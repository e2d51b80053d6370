"""Privacy and browser policy, against a real gateway with real workers (test doubles for the
models), Redis and S3: ``DELETE /v1/jobs/{id}`` leaves nothing of the job in Redis or S3 (the test
lists the keys and objects), only the submitting client may delete, security headers are on every
response, and CORS is same-origin unless origins are configured."""

from __future__ import annotations

import json

import httpx
import pytest
import redis

from services.common.processes import wait_until
from services.common.settings import ROOT
from tests.services.stack import s3_storage, start_gateway, start_worker, wait_job

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
KEYS = "owner-key-aaaaaaaa,other-key-bbbbbbbb"
OWNER = {"Authorization": "Bearer owner-key-aaaaaaaa"}
OTHER = {"Authorization": "Bearer other-key-bbbbbbbb"}


@pytest.fixture(scope="module")
def stack(stack_env):
    url = stack_env["SKETCHREF_REDIS_URL"].rsplit("/", 1)[0] + "/7"  # queues of its own
    redis.Redis.from_url(url).flushdb()
    env = dict(stack_env, SKETCHREF_REDIS_URL=url)
    workers = [start_worker(env, k) for k in ("detector", "classifier", "recommender")]
    gw, base = start_gateway(env, SKETCHREF_GATEWAY_API_KEYS=KEYS, SKETCHREF_GATEWAY_DELETE_RECHECK_S="1",
                             SKETCHREF_GATEWAY_CORS_ORIGINS="https://allowed.example")
    try:
        yield {"url": base, "redis": redis.Redis.from_url(url), "s3": s3_storage(env["SKETCHREF_S3_ENDPOINT_URL"])}
    finally:
        gw.stop()
        for w in workers:
            w.stop()


def traces(stack, job_id: str) -> tuple[list[str], list[str]]:
    """Every Redis key naming the job or holding it (sets, values), and every S3 object naming it."""
    r = stack["redis"]
    found = []
    for k in r.scan_iter("*"):
        key = k.decode()
        if job_id in key:
            found.append(key)
            continue
        kind = r.type(k).decode()
        if kind == "zset" and r.zscore(k, job_id) is not None:
            found.append(f"{key} (member)")
        elif kind == "string" and job_id.encode() in (r.get(k) or b""):
            found.append(f"{key} (value)")
    objects = [o for o in stack["s3"].list("") if job_id in o]
    return found, objects


def test_delete_removes_job_sketch_and_crops(stack):
    with httpx.Client(base_url=stack["url"], timeout=60) as c:
        r = c.post("/v1/jobs", files={"image": ("s.png", SKETCH)}, headers={**OWNER, "Idempotency-Key": "del-1"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        c.headers.update(OWNER)
        job = wait_job(c, job_id)
        assert job["status"] == "succeeded", job
        # the recommender stores the crops just after the job succeeded (off the client's path)
        wait_until(lambda: any(o.startswith(f"crops/{job_id}/") for o in traces(stack, job_id)[1]), 30,
                   "the job's crops stored")
        keys, objects = traces(stack, job_id)
        assert any(k.endswith(f"job:{job_id}") for k in keys) and any("idem:" in k for k in keys), keys
        assert f"sketches/{job_id}.png" in objects

        assert c.delete(f"/v1/jobs/{job_id}", headers=OTHER).status_code == 403
        d = c.delete(f"/v1/jobs/{job_id}")
        assert d.status_code == 204, d.text
        assert traces(stack, job_id) == ([], [])
        g = c.get(f"/v1/jobs/{job_id}")
        assert g.status_code == 404 and g.json()["error"]["code"] == "job_not_found"
        assert c.delete(f"/v1/jobs/{job_id}").status_code == 404


def test_delete_while_running_cancels_the_rest(stack):
    with httpx.Client(base_url=stack["url"], timeout=60, headers=OWNER) as c:
        job_id = c.post("/v1/jobs", files={"image": ("s.png", SKETCH)}).json()["id"]
        assert c.delete(f"/v1/jobs/{job_id}").status_code == 204
        # stages still queued or running find no job and stop; a late crop is removed by the recheck
        wait_until(lambda: traces(stack, job_id) == ([], []), 30, "nothing of the deleted job left")
        assert c.get(f"/v1/jobs/{job_id}").status_code == 404


@pytest.mark.parametrize("path", ["/", "/healthz", "/v1/jobs/0123456789abcdef0123456789abcdef", "/nope",
                                  "/openapi.json"])
def test_security_headers_on_every_response(stack, path):
    r = httpx.get(stack["url"] + path, headers=OWNER)
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_the_app_has_no_inline_script_or_style():
    html = (ROOT / "services" / "gateway" / "static" / "index.html").read_text()
    import re

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and not re.search(r"\sstyle=", html) and not re.search(r"\son\w+=", html)


def test_cors_is_an_explicit_list(stack):
    pre = {"Origin": "https://allowed.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type,idempotency-key"}
    ok = httpx.options(stack["url"] + "/v1/jobs", headers=pre)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://allowed.example"
    bad = httpx.options(stack["url"] + "/v1/jobs", headers={**pre, "Origin": "https://evil.example"})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
    r = httpx.get(stack["url"] + "/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_same_origin_by_default(gateway):
    r = httpx.get(gateway + "/healthz", headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert json.loads(r.text) == {"status": "ok"}


def test_the_app_satisfies_the_csp_in_chromium(stack):
    """Draw, submit and see the result in Chromium with the gateway's CSP: no violation reported."""
    from pathlib import Path

    from tests.web.phone import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 800},
                                      extra_http_headers={"X-API-Key": "owner-key-aaaaaaaa"})
            ctx.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
            page = ctx.new_page()
            page.goto(stack["url"] + "/")
            box = page.get_by_test_id("canvas").bounding_box()
            x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
            page.mouse.move(x0, y0)
            page.mouse.down()
            for i in range(1, 20):
                page.mouse.move(x0 + i * 8, y0 + (i % 5) * 12, steps=2)
            page.mouse.up()
            page.get_by_test_id("submit").click()
            page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=60_000)
            page.wait_for_timeout(500)
            violations = page.evaluate("window.__csp")
            assert violations == [], violations
            # the listener does see a violation: an inline style attribute is refused
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
            page.wait_for_function("() => window.__csp.length > 0", timeout=5_000)
        finally:
            browser.close()
