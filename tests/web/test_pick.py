"""Picking the right label: ``POST /v1/jobs/{id}/objects/{i}/label`` on the real stack (the pick is
kept with the job, the recommend stage runs again through the queue, only the submitting client may
pick), and the same from the app's candidates sheet.
"""

from __future__ import annotations

import httpx

from tests.services.stack import start_gateway, wait_job
from tests.web.phone import draw_drawing, fit_strokes, held_out_drawing

WAIT_MS = 60_000


def _body(word: str) -> dict:
    pts = fit_strokes(held_out_drawing(word).strokes, (0, 0, 392, 640), 0.14)
    return {"strokes": [[[p[0] for p in s], [p[1] for p in s]] for s in pts], "width": 392, "height": 640}


def test_pick_api(web_env, app_url):
    # A gateway with API keys on, on the same Redis and workers: "same client" is the same key.
    p, url = start_gateway(web_env, SKETCHREF_GATEWAY_API_KEYS="key-one,key-two")
    one = {"Authorization": "Bearer key-one"}
    two = {"Authorization": "Bearer key-two"}
    try:
        with httpx.Client(base_url=url, timeout=30, headers=one) as c:
            job = c.post("/v1/jobs", json=_body("cat"), headers=one).json()
            done = wait_job(c, job["id"], timeout=120)
            assert done["status"] == "succeeded" and done["objects"], done
            path = f"/v1/jobs/{job['id']}/objects/0/label"
            other = done["objects"][0]["labels"][1]["label"] if len(done["objects"][0]["labels"]) > 1 else "dog"

            # Refusals, each a clear JSON error.
            r = c.post(path, json={"label": other}, headers=two)
            assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_job"
            r = c.post(path, json={"label": "not a class"}, headers=one)
            assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_label"
            r = c.post(f"/v1/jobs/{job['id']}/objects/99/label", json={"label": other}, headers=one)
            assert r.status_code == 404 and r.json()["error"]["code"] == "object_not_found"
            r = c.post("/v1/jobs/" + "0" * 32 + "/objects/0/label", json={"label": other}, headers=one)
            assert r.status_code == 404
            r = c.post(path, content=b"{", headers={**one, "Content-Type": "application/json"})
            assert r.status_code == 400

            r = c.post(path, json={"label": other}, headers=one)
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "queued" and r.json()["stage"] == "recommend"
            assert r.json()["objects"][0]["picked_label"] == other
            # While it re-runs, a second pick waits its turn (409), unless the recommender was quicker.
            again = c.post(path, json={"label": other}, headers=one)
            assert again.status_code in (202, 409), again.text
            after = wait_job(c, job["id"], timeout=120)
            assert after["status"] == "succeeded", after
            assert after["objects"][0]["picked_label"] == other
            assert after["objects"][0]["labels"] == done["objects"][0]["labels"]  # the classifier's answer stays
            assert after["updated_at"] > done["updated_at"]
    finally:
        p.stop()


def test_pick_from_the_app(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    draw_drawing(page, held_out_drawing("cat"))
    page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    page.get_by_test_id("object").first.click()
    page.locator("#labels-dialog").wait_for(state="visible")
    assert "your pick is kept" in page.locator("#labels-sub").inner_text()
    picks = page.get_by_test_id("pick")
    assert picks.count() >= 2  # top_k 5: every candidate can be picked
    second = page.get_by_test_id("candidate").nth(1).locator(".cand-name").inner_text().strip()
    with page.expect_response(lambda r: r.url.endswith("/objects/0/label")) as res:
        picks.nth(1).click()
    assert res.value.status == 202
    page.wait_for_function("() => document.querySelector('[data-testid=status]').innerText.startsWith('Picked')",
                           timeout=WAIT_MS)
    assert page.get_by_test_id("label").first.inner_text() == second
    assert "your pick" in page.get_by_test_id("object").first.inner_text()
    assert not page.errors, page.errors


def _gallery_words() -> set[str]:
    """The Quick, Draw! words the default local gallery has photos of (what the stack's recommender
    built from the shared photos)."""
    from services.common.settings import get_settings
    from services.recommender.gallery_sources import scan_folder

    photos = get_settings().shared_dir / "data" / "photos"
    return {w for sub in photos.iterdir() if sub.is_dir() for item in scan_folder(sub) for w in item.labels}


def test_a_pick_without_photos_shows_the_next_guess(app_url, phone):
    """Picking a label the gallery has no photos of: the job's references come from the next
    candidate that has some, the API says whose (``references_label``) and the app says so."""
    page = phone
    words = _gallery_words()
    page.goto(app_url + "/")
    draw_drawing(page, held_out_drawing("cat"))
    with page.expect_response(lambda r: r.url.endswith("/v1/jobs") and r.request.method == "POST") as posted:
        page.get_by_test_id("submit").click()
    job_url = f"{app_url}/v1/jobs/{posted.value.json()['id']}"
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=WAIT_MS)
    obj = httpx.get(job_url, timeout=30).json()["objects"][0]
    top = obj["labels"][0]["label"]
    assert top in words and obj["references_label"] == top  # a cat, with photos of cats
    assert page.get_by_test_id("refs-note").count() == 0
    without = [c["label"] for c in obj["labels"][1:] if c["label"] not in words]
    assert without, f"every candidate of {obj['labels']} has photos: nothing to check with"
    page.get_by_test_id("object").first.click()
    page.locator("#labels-dialog").wait_for(state="visible")
    page.get_by_role("button", name=f"Pick {without[0]}", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-testid=status]').innerText.startsWith('Picked')",
                           timeout=WAIT_MS)
    after = httpx.get(job_url, timeout=30).json()["objects"][0]
    tried = list(dict.fromkeys([without[0]] + [c["label"] for c in obj["labels"][:3]]))
    expected = next(w for w in tried if w in words)
    assert after["picked_label"] == without[0] and after["references_label"] == expected
    assert after["references"]
    article = "an" if without[0][0] in "aeiou" else "a"
    assert page.get_by_test_id("refs-note").inner_text() == \
        f"No photos of {article} {without[0]} — here is the next guess, {expected}."
    assert page.locator(".ref-strip").first.get_attribute("aria-label") == f"Reference photos of {expected}"
    assert not page.errors, page.errors
