"""Unsplash references in the app: attribution links with the API's utm parameters, and tapping a
photo fires the download-tracking endpoint, which reaches (the fake) Unsplash server-side."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.web.phone import artifacts_dir, draw_drawing, held_out_drawing

WAIT_MS = 60_000


def test_unsplash_attribution_and_download_tracking(unsplash_app_url, phone, fake_unsplash):
    page = phone
    page.goto(unsplash_app_url + "/")
    draw_drawing(page, held_out_drawing("cat"))
    page.get_by_test_id("submit").click()
    ref = page.get_by_test_id("reference").first
    ref.wait_for(timeout=WAIT_MS)
    assert ref.get_attribute("data-provider") == "unsplash"

    # Photographer credit links carry the utm parameters the API gave.
    author = page.locator(".ref-credit a").first
    q = parse_qs(urlsplit(author.get_attribute("href")).query)
    assert q.get("utm_source") == ["sketchref"] and q.get("utm_medium") == ["referral"]
    assert author.get_attribute("target") == "_blank" and "noopener" in author.get_attribute("rel")
    assert "Photos from Unsplash" in page.locator(".object-card").first.inner_text()

    before = len(fake_unsplash.download_calls)
    with page.expect_response(lambda r: "/v1/references/unsplash/" in r.url and r.request.method == "POST") as resp:
        ref.tap()
    assert resp.value.status == 200 and resp.value.json()["tracked"] is True
    photo_id = resp.value.url.split("/v1/references/unsplash/")[1].split("/")[0]
    assert fake_unsplash.download_calls[before:] == [photo_id]

    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    caption = page.locator("#viewer-caption")
    assert caption.inner_text().startswith("Photo by ") and caption.inner_text().endswith("on Unsplash")
    links = caption.locator("a")
    assert all("utm_source=sketchref" in (links.nth(i).get_attribute("href") or "") for i in range(links.count()))
    assert page.locator("#viewer-open").inner_text().strip() == "View on Unsplash"
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts_dir() / "20-unsplash-viewer.png"))
    assert not page.errors, page.errors
