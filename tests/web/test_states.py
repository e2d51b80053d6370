"""The app's other states: offline (app shell from the service worker), rate limiting, a failed job,
an empty result, and the layouts at 360 px and on a desktop.

Offline is real (Chromium's network emulation). The gateway has no rate limiter to trip on demand and
the real workers rarely fail or find nothing, so those three answers are injected at the browser's
network layer (``page.route``) on top of the real gateway: the app still loads from the gateway and the
real job record is fetched, only its answer is altered.
"""

from __future__ import annotations

import json

from tests.web.phone import PHONE, Finger, artifacts_dir, canvas_box, draw_drawing, held_out_drawing

WAIT_MS = 60_000


def shot(page, name):
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"))


def test_offline_shell_and_offline_submit(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    # The service worker installs and takes control of the page.
    page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        if (!navigator.serviceWorker.controller)
            await new Promise(r => navigator.serviceWorker.addEventListener('controllerchange', r, {once: true}));
    }""")
    page.context.set_offline(True)
    page.reload()
    page.get_by_test_id("canvas").wait_for()
    assert page.evaluate("window.sketchref.mode") == "draw"  # the app's scripts came from the cache
    banner = page.locator("#banner")

    draw_drawing(page, held_out_drawing("tree"))
    if page.get_by_test_id("submit").is_enabled():  # navigator.onLine may not have noticed yet
        page.get_by_test_id("submit").click()
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-kind") == "offline"
    assert page.get_by_test_id("status").get_attribute("data-state") == "offline"
    assert page.evaluate("window.sketchref.mode") == "draw"
    assert page.evaluate("window.sketchref.pad.strokes.length") > 0  # the sketch is kept
    shot(page, "10-offline")

    page.context.set_offline(False)
    banner.get_by_role("button", name="Retry").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert not page.errors, page.errors


def test_rate_limited(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    draw_drawing(page, held_out_drawing("tree"))
    hits = []

    def too_many(route):
        hits.append(route.request.url)
        route.fulfill(status=429, headers={"Retry-After": "2", "Content-Type": "application/json"},
                      body=json.dumps({"error": {"code": "rate_limited", "message": "Too many requests"}}))

    page.route("**/v1/jobs", too_many)
    page.get_by_test_id("submit").click()
    status = page.get_by_test_id("status")
    page.wait_for_function("() => document.querySelector('[data-testid=status]').dataset.state === 'limited'")
    assert "retry in" in status.inner_text().lower()
    assert page.get_by_test_id("submit").is_disabled()
    assert page.locator("#banner").get_attribute("data-kind") == "limited"
    shot(page, "11-rate-limited")
    # The cool-down ends by itself and submitting works again.
    page.unroute("**/v1/jobs")
    page.wait_for_function("() => !document.querySelector('[data-testid=submit]').disabled", timeout=WAIT_MS)
    assert hits
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)


def _alter_job(page, change):
    """Answer GET /v1/jobs/{id} with the real record, altered by ``change`` once it has finished."""
    def handler(route):
        if route.request.method != "GET":
            return route.continue_()
        res = route.fetch()
        job = res.json()
        if job.get("status") in ("succeeded", "failed"):
            change(job)
        route.fulfill(response=res, body=json.dumps(job))

    page.route("**/v1/jobs/*", handler)


def test_failed_job_then_retry(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    draw_drawing(page, held_out_drawing("tree"))

    def fail(job):
        job.update(status="failed", objects=[], error="the detector stopped unexpectedly")

    _alter_job(page, fail)
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => document.querySelector('[data-testid=status]').dataset.state === 'error'",
                           timeout=WAIT_MS)
    banner = page.locator("#banner")
    assert "detector stopped" in banner.inner_text()
    assert page.evaluate("window.sketchref.mode") == "draw"  # back to the sketch, strokes kept
    shot(page, "12-failed")
    page.unroute("**/v1/jobs/*")
    banner.get_by_role("button", name="Try again").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert not page.errors, page.errors


def test_empty_result(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    x, y, w, h = canvas_box(page)
    Finger(page).stroke([(x + w / 2, y + h / 2), (x + w / 2 + 3, y + h / 2 + 2)])

    def nothing(job):
        job["objects"] = []

    _alter_job(page, nothing)
    page.get_by_test_id("submit").click()
    page.locator("#empty").wait_for(state="visible", timeout=WAIT_MS)
    assert page.get_by_test_id("status").inner_text().strip() == "Nothing recognised"
    assert page.get_by_test_id("object").count() == 0
    shot(page, "13-empty")


def _no_horizontal_overflow(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def _inside_viewport(page, testid):
    b = page.get_by_test_id(testid).bounding_box()
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    return b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= vw and b["y"] + b["height"] <= vh


def test_narrow_phone_360(app_url, chromium):
    ctx = chromium.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = ctx.new_page()
    try:
        page.goto(app_url + "/")
        for tid in ("canvas", "undo", "clear", "submit", "status"):
            assert _inside_viewport(page, tid), tid
        draw_drawing(page, held_out_drawing("cat"))
        assert _no_horizontal_overflow(page)
        page.get_by_test_id("submit").click()
        page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
        page.wait_for_timeout(400)
        assert _no_horizontal_overflow(page)
        shot(page, "14-result-360")
    finally:
        ctx.close()


def test_desktop_mouse(app_url, chromium):
    """On a desktop the mouse draws, and results sit beside the sketch."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(app_url + "/")
        x, y, w, h = canvas_box(page)
        from tests.web.phone import fit_strokes

        for stroke in fit_strokes(held_out_drawing("cat").strokes, (x, y, w, h), 0.2):
            page.mouse.move(*stroke[0])
            page.mouse.down()
            for px, py in stroke[1:]:
                page.mouse.move(px, py, steps=2)
            page.mouse.up()
        assert page.evaluate("window.sketchref.pad.strokes.length") > 0
        page.keyboard.press("Control+z")
        page.get_by_test_id("submit").click()
        page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
        page.wait_for_timeout(500)
        stage = page.locator("#stage").bounding_box()
        results = page.locator("#results").bounding_box()
        assert results["x"] >= stage["x"] + stage["width"] - 1  # side by side
        shot(page, "15-result-desktop")
    finally:
        ctx.close()
