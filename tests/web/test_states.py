"""The app's other states: offline (app shell from the service worker), rate limiting, a failed job,
an empty result, and the layouts at 360 px and on a desktop.

All of them come from the real stack, nothing is altered in the browser. Offline is Chromium's network
emulation. Rate limiting is the gateway's own limiter (a gateway started with a low limit, on the same
Redis and workers). The failed job is the real deadline path (a gateway whose jobs have a 1 ms
deadline, so the worker or the sweeper fails them), and its retry goes to the same address once that
gateway is back with the normal deadline. The empty result is a lone dot, in which the detector finds
nothing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.services.stack import start_gateway, wait_job
from tests.web.phone import PHONE, Finger, artifacts_dir, canvas_box, draw_drawing, held_out_drawing

WAIT_MS = 60_000
OTHER_SKETCH = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}


def shot(page, name):
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def limited_url(web_env, app_url):
    """A second gateway with the rate limit on: 12 jobs a minute (one every 5 s), no burst."""
    p, url = start_gateway(web_env, SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="12", SKETCHREF_GATEWAY_RATE_LIMIT_BURST="1")
    try:
        yield url
    finally:
        p.stop()


@pytest.fixture
def strict_deadline(web_env, app_url):
    """A gateway whose jobs must be done 1 ms after submission, which no job is; yields its URL and a
    ``restore()`` that restarts it on the same port with the default deadline."""
    p, url = start_gateway(web_env, SKETCHREF_GATEWAY_JOB_DEADLINE_S="0.001")
    procs = [p]

    def restore():
        procs[-1].stop()
        procs.append(start_gateway(web_env, port=_port(url))[0])

    try:
        yield url, restore
    finally:
        for proc in procs:
            proc.stop()


def _job_posts(page) -> list:
    """Every answer to the page's ``POST /v1/jobs``, in order (read them after the handler ran)."""
    seen = []

    def on_response(res):
        if res.request.method == "POST" and res.url.endswith("/v1/jobs"):
            seen.append(res)

    page.on("response", on_response)
    return seen


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

    posts = _job_posts(page)
    draw_drawing(page, held_out_drawing("tree"))
    page.get_by_test_id("submit").click()  # whether or not navigator.onLine has noticed yet
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-kind") == "offline"
    assert "sent when the connection is back" in banner.inner_text()
    assert page.get_by_test_id("status").get_attribute("data-state") == "offline"
    assert page.evaluate("window.sketchref.mode") == "draw"
    assert page.evaluate("window.sketchref.pad.strokes.length") > 0  # the sketch is kept
    shot(page, "10-offline")

    # Back online: the sketch the user tried to send goes by itself (on the "online" event, or the
    # app's own retry while the browser believes it is online), whatever order the events come in.
    page.context.set_offline(False)
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert [res.status for res in posts] == [202], posts
    assert not page.errors, page.errors


def test_back_online_without_a_send_waits_for_the_user(app_url, phone):
    """Going offline and back with a drawing on the pad sends nothing the user did not ask to send."""
    page = phone
    page.goto(app_url + "/")
    posts = _job_posts(page)
    draw_drawing(page, held_out_drawing("tree"))
    page.context.set_offline(True)
    page.wait_for_function("() => document.querySelector('#banner').dataset.kind === 'offline'"
                           " && !document.querySelector('#banner').hidden", timeout=WAIT_MS)
    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#banner').hidden", timeout=WAIT_MS)
    page.wait_for_timeout(6000)  # longer than the app's own resend interval
    assert posts == []
    assert page.evaluate("window.sketchref.mode") == "draw"
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert not page.errors, page.errors


def test_rate_limited(limited_url, phone):
    page = phone
    page.goto(limited_url + "/")
    draw_drawing(page, held_out_drawing("tree"))
    posts = _job_posts(page)
    # Another sketch from this phone's address (127.0.0.1) has just used up its allowance.
    with httpx.Client(base_url=limited_url, timeout=30) as c:
        r = c.post("/v1/jobs", json=OTHER_SKETCH)
        assert r.status_code == 202, r.text
    page.get_by_test_id("submit").click()
    status = page.get_by_test_id("status")
    page.wait_for_function("() => document.querySelector('[data-testid=status]').dataset.state === 'limited'",
                           timeout=WAIT_MS)
    assert posts and posts[0].status == 429, posts
    assert posts[0].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(posts[0].headers["retry-after"]) <= 5
    assert "retry in" in status.inner_text().lower()
    assert page.get_by_test_id("submit").is_disabled()
    assert page.locator("#banner").get_attribute("data-kind") == "limited"
    assert page.evaluate("window.sketchref.pad.strokes.length") > 0  # the sketch is kept
    shot(page, "11-rate-limited")
    # The cool-down (the gateway's Retry-After) ends by itself, and then the gateway takes the sketch.
    page.wait_for_function("() => !document.querySelector('[data-testid=submit]').disabled", timeout=WAIT_MS)
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert [res.status for res in posts] == [429, 202], posts
    assert not page.errors, page.errors


def test_failed_job_then_retry(strict_deadline, phone):
    url, restore = strict_deadline
    page = phone
    page.goto(url + "/")
    draw_drawing(page, held_out_drawing("tree"))
    posts = _job_posts(page)
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => document.querySelector('[data-testid=status]').dataset.state === 'error'",
                           timeout=WAIT_MS)
    with httpx.Client(base_url=url, timeout=30) as c:
        job = c.get(f"/v1/jobs/{posts[0].json()['id']}").json()
    assert job["status"] == "failed" and job["error"].startswith("deadline exceeded"), job
    banner = page.locator("#banner")
    assert job["error"] in banner.inner_text()
    assert page.evaluate("window.sketchref.mode") == "draw"  # back to the sketch, strokes kept
    assert page.evaluate("window.sketchref.pad.strokes.length") > 0
    shot(page, "12-failed")
    restore()  # the same gateway again, with the normal deadline
    banner.get_by_role("button", name="Try again").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    assert [res.status for res in posts] == [202, 202], posts
    assert not page.errors, page.errors


def test_empty_result(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    posts = _job_posts(page)
    x, y, w, h = canvas_box(page)
    Finger(page).stroke([(x + w / 2, y + h / 2), (x + w / 2 + 3, y + h / 2 + 2)])  # a lone dot
    page.get_by_test_id("submit").click()
    page.locator("#empty").wait_for(state="visible", timeout=WAIT_MS)
    assert page.get_by_test_id("status").inner_text().strip() == "Nothing recognised"
    assert page.get_by_test_id("object").count() == 0
    with httpx.Client(base_url=app_url, timeout=30) as c:
        job = wait_job(c, posts[0].json()["id"], timeout=30)
    assert job["status"] == "succeeded" and job["objects"] == [], job  # the real answer was empty
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
