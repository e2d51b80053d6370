"""Accessibility of the three screens (drawing with live guesses, waiting, result) with axe-core in
Chromium at a phone viewport: no serious or critical violation (contrast >= 4.5:1 among them), touch
targets >= 44 px, visible text inside accessible names, one ``h1``; and a keyboard / screen-reader
user can submit from the canvas and hear the result (the status is an ``aria-live`` region).
"""

from __future__ import annotations

from tests.web.a11y import check_screen
from tests.web.phone import draw_drawing, held_out_drawing

WAIT_MS = 60_000
PASS = {"axe": [], "small_targets": [], "names": [], "h1": 1}


def test_drawing_and_result_screens(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    assert check_screen(page) == PASS  # the empty drawing screen
    draw_drawing(page, held_out_drawing("cat"))
    page.wait_for_function("() => window.sketchref.guesses.last.shownAt > 0", timeout=WAIT_MS)
    assert check_screen(page) == PASS  # drawing, with live guesses

    # Keyboard only: the canvas takes focus, Control+Enter submits, the live status says the result.
    page.focus("[data-testid=canvas]")
    status = page.get_by_test_id("status")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    page.get_by_test_id("reference").first.wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)  # entry animations
    assert status.inner_text().strip().startswith("Found ")
    assert check_screen(page) == PASS  # result

    page.get_by_test_id("object").first.click()
    page.locator("#labels-dialog").wait_for(state="visible")
    page.wait_for_timeout(400)
    assert check_screen(page) == PASS  # the candidates sheet
    assert not page.errors, page.errors


def test_waiting_screen(unworked_url, phone):
    page = phone
    page.goto(unworked_url + "/")
    draw_drawing(page, held_out_drawing("tree"))
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => document.querySelector('[data-testid=status]').innerText.includes('Starting up')",
                           timeout=15_000)
    page.wait_for_timeout(300)
    assert check_screen(page) == PASS
    page.get_by_test_id("cancel").click()
    assert not page.errors, page.errors
