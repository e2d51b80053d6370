"""Nothing a person draws is lost: rotating the phone mid-drawing, reloading, Back from results, Clear
(undoable) and Cancel, on the real stack at a phone viewport with touch.

The rotation is a real viewport change (412x915 -> 915x412): the canvas changes size and shape, and
what is drawn after it must reach the server with what was drawn before, every point inside the
canvas the request declares. Cancel and "starting up" use a gateway whose queue no worker consumes
(its own Redis database), which is what a stack whose workers are still starting looks like.
"""

from __future__ import annotations

import re

from tests.web.phone import Finger, artifacts_dir, canvas_box, draw_drawing, fit_strokes, held_out_drawing

WAIT_MS = 60_000
JOB_GET = re.compile(r"/v1/jobs/[0-9a-f]{32}(\?|$)")


def _strokes(page) -> int:
    return page.evaluate("window.sketchref.pad.strokes.length")


def _payload(page) -> dict:
    return page.evaluate("JSON.parse(JSON.stringify(window.sketchref.pad.toJSON()))")


def _assert_inside(payload: dict) -> None:
    w, h = payload["width"], payload["height"]
    for xs, ys in payload["strokes"]:
        assert len(xs) == len(ys) >= 2
        assert all(0 <= x <= w for x in xs) and all(0 <= y <= h for y in ys), (w, h, xs, ys)


def _job_gets(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.method == "GET" and JOB_GET.search(r.url) else None)
    return seen


def test_rotate_mid_drawing_keeps_every_stroke(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    cat = held_out_drawing("cat")
    fish = held_out_drawing("fish")
    n1 = draw_drawing(page, cat)
    before = _payload(page)

    # Turn the phone: the canvas becomes wide and short.
    page.set_viewport_size({"width": 915, "height": 412})
    page.wait_for_function("() => { const c = document.querySelector('[data-testid=canvas]');"
                           " return c.getBoundingClientRect().width > 600; }")
    page.wait_for_timeout(200)
    assert _strokes(page) == n1
    # The drawing was moved and maybe rescaled, never cut: the same shapes, point for point.
    after = _payload(page)
    for (bx, by), (ax, ay) in zip(before["strokes"], after["strokes"], strict=True):
        assert len(bx) == len(ax)
        dx0, dy0 = ax[0] - bx[0], ay[0] - by[0]
        assert all(abs((a - b) - dx0) <= 0.2 for a, b in zip(ax, bx, strict=True))
        assert all(abs((a - b) - dy0) <= 0.2 for a, b in zip(ay, by, strict=True))

    # A fish across the whole width of the turned canvas, edge to edge (the part that was dropped).
    x, y, w, h = canvas_box(page)
    fish_strokes = fit_strokes(fish.strokes, (x, y, w, h), 0.02)
    Finger(page).draw(fish_strokes)
    total = n1 + len(fish_strokes)
    assert _strokes(page) == total
    page.screenshot(path=str(artifacts_dir() / "20-rotated.png"))

    gets = _job_gets(page)
    with page.expect_request(lambda r: r.url.endswith("/v1/jobs") and r.method == "POST") as req:
        page.get_by_test_id("submit").click()
    body = req.value.post_data_json
    assert len(body["strokes"]) == total
    _assert_inside(body)
    # The declared canvas is the turned canvas's shape, and the fish spans it as it did on screen.
    assert abs(body["width"] / body["height"] - w / h) < 0.03 * (w / h), (body["width"], body["height"], w, h)
    fish_xs = [x for xs, _ in body["strokes"][n1:] for x in xs]
    on_screen = max(p[0] for s in fish_strokes for p in s) - min(p[0] for s in fish_strokes for p in s)
    assert (max(fish_xs) - min(fish_xs)) / body["width"] > 0.95 * on_screen / w

    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    # The app waits with the long poll, never with a burst of short polls.
    assert gets and all("wait=" in u for u in gets), gets
    assert not page.errors, page.errors


def test_reload_back_and_undoable_clear(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    n = draw_drawing(page, held_out_drawing("house"))
    drawn = _payload(page)

    page.reload()
    page.get_by_test_id("canvas").wait_for()
    assert _strokes(page) == n
    assert _payload(page) == drawn
    assert page.get_by_test_id("submit").is_enabled()

    page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    page.go_back()  # the phone's Back from the results
    page.wait_for_function("() => window.sketchref.mode === 'draw'", timeout=5000)
    assert page.url.startswith(app_url)
    assert _strokes(page) == n
    assert _payload(page)["strokes"] == drawn["strokes"]

    page.get_by_test_id("clear").click()
    assert _strokes(page) == 0
    assert page.get_by_test_id("submit").is_disabled()
    assert page.get_by_test_id("undo").is_enabled()
    page.reload()  # even a reload between Clear and Undo keeps the cleared drawing for Undo
    page.get_by_test_id("canvas").wait_for()
    assert _strokes(page) == 0
    page.get_by_test_id("undo").click()
    assert _strokes(page) == n
    assert _payload(page)["strokes"] == drawn["strokes"]
    page.get_by_test_id("undo").click()  # and Undo goes on taking back strokes
    assert _strokes(page) == n - 1
    assert not page.errors, page.errors


def test_starting_up_then_cancel(unworked_url, phone):
    page = phone
    page.goto(unworked_url + "/")
    n = draw_drawing(page, held_out_drawing("tree"))
    gets = _job_gets(page)
    page.get_by_test_id("submit").click()
    status = page.get_by_test_id("status")
    # Plain words instead of looking stuck, once the first long poll ends with the job still queued.
    page.wait_for_function("() => document.querySelector('[data-testid=status]').innerText.includes('Starting up')",
                           timeout=15_000)
    assert "first answer in a few seconds" in status.inner_text()
    cancel = page.get_by_test_id("cancel")
    assert cancel.is_visible()
    page.screenshot(path=str(artifacts_dir() / "21-starting-up.png"))
    cancel.click()
    assert page.evaluate("window.sketchref.mode") == "draw"
    assert "Cancelled" in status.inner_text()
    assert _strokes(page) == n
    assert cancel.is_hidden()
    assert page.get_by_test_id("submit").is_enabled()
    page.wait_for_timeout(1500)
    assert page.evaluate("window.sketchref.mode") == "draw"  # nothing comes back after a cancel
    assert gets and all("wait=" in u for u in gets), gets
    assert not page.errors, page.errors
