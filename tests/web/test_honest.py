"""Honest answers: an object the classifier is not sure of (``confident: false``) reads "Not sure —
maybe a cup, a mug or a vase?"; an object without the field (an older server) is taken as confident.
Photos of another candidate say so ("No photos of a face — here is the next guess, owl"), an object
with no photos of any candidate says that, and every photo carries the most specific credit it has.

Rendered by the app's own ``ResultsView`` in the phone browser from job objects shaped as the API
answers them (the stack's answers today carry no ``confident: false`` for a held-out drawing, so the
two cases are given here as data; the end-to-end result screen is in ``test_app.py``).
"""

from __future__ import annotations

import httpx

from tests.web.a11y import check_screen
from tests.web.phone import Finger, canvas_box, fit_strokes, held_out_drawing

OBJECTS = [
    {"box": [10, 10, 120, 120], "score": 0.9, "detector_label": "object", "confident": False,
     "labels": [{"label": "cup", "score": 0.31}, {"label": "mug", "score": 0.22},
                {"label": "vase", "score": 0.12}, {"label": "bucket", "score": 0.05}], "references": []},
    {"box": [150, 10, 260, 120], "score": 0.9, "detector_label": "object",
     "labels": [{"label": "apple", "score": 0.88}, {"label": "onion", "score": 0.04}], "references": []},
    {"box": [10, 150, 120, 260], "score": 0.9, "detector_label": "object", "confident": True,
     "labels": [{"label": "owl", "score": 0.7}], "references": []},
    {"box": [150, 150, 260, 260], "score": 0.9, "detector_label": "object", "confident": False,
     "labels": [{"label": "ear", "score": 0.4}], "references": []},
]


SHOW = """async (objects) => {
        const { ResultsView } = await import('/js/results.js');
        const view = new ResultsView({
            overlay: document.querySelector('#overlay'), list: document.querySelector('#object-list'),
            empty: document.querySelector('#empty'), title: document.querySelector('#results-title'),
            labelsDialog: document.querySelector('#labels-dialog'), viewer: document.querySelector('#viewer'),
        });
        document.querySelector('#results').hidden = false;
        view.show({ id: 'x', status: 'succeeded', objects });
    }"""


def test_not_sure_objects_say_so(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    page.evaluate(SHOW, OBJECTS)
    cards = page.locator(".object-card")
    assert cards.count() == 4
    texts = page.get_by_test_id("not-sure").all_inner_texts()
    assert texts == ["Not sure — maybe a cup, a mug or a vase?", "Not sure — maybe an ear?"]
    assert cards.nth(0).get_by_test_id("not-sure").count() == 1
    assert cards.nth(1).get_by_test_id("not-sure").count() == 0  # no field: confident
    assert cards.nth(2).get_by_test_id("not-sure").count() == 0
    # The top label stays the visible, stable test hook.
    assert page.get_by_test_id("label").all_inner_texts() == ["Cup", "Apple", "Owl", "Ear"]
    assert check_screen(page)["axe"] == []
    assert not page.errors, page.errors


COCO = {"provider": "local", "id": "c0", "url": "/v1/gallery/c0", "thumb_url": "/v1/gallery/c0/thumb",
        "collection": "COCO 2017", "title": "COCO image 370",
        "source_url": "https://cocodataset.org/#explore?id=370"}
CORAL = {"provider": "local", "id": "o1", "url": "/v1/gallery/o1", "thumb_url": "/v1/gallery/o1/thumb",
         "collection": "Open Images (google-coral/test_data)", "title": "owl.jpg", "license": "Apache-2.0",
         "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
         "source_url": "https://github.com/google-coral/test_data/blob/104342d2/owl.jpg"}
FALLBACKS = [
    {"box": [10, 10, 120, 120], "score": 0.9, "detector_label": "object", "confident": True,
     "labels": [{"label": "face", "score": 0.6}, {"label": "owl", "score": 0.2}], "references_label": "owl",
     "references": [CORAL]},
    {"box": [150, 10, 260, 120], "score": 0.9, "detector_label": "object", "confident": True,
     "labels": [{"label": "zigzag", "score": 0.5}, {"label": "octagon", "score": 0.2},
                {"label": "squiggle", "score": 0.1}], "references_label": None, "references": []},
    {"box": [10, 150, 120, 260], "score": 0.9, "detector_label": "object", "confident": True,
     "labels": [{"label": "cat", "score": 0.8}], "references_label": "cat", "references": [COCO]},
]


def test_photos_of_another_candidate_say_so_and_credit_the_photo(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    page.evaluate(SHOW, FALLBACKS)
    cards = page.locator(".object-card")
    assert cards.count() == 3
    notes = [cards.nth(i).get_by_test_id("refs-note") for i in range(3)]
    assert notes[0].inner_text() == "No photos of a face — here is the next guess, owl."
    assert notes[1].inner_text() == "No photos of a zigzag, nor of an octagon or a squiggle."
    assert notes[2].count() == 0  # photos of the object's own label: nothing to say
    assert page.get_by_test_id("label").all_inner_texts() == ["Face", "Zigzag", "Cat"]
    # The strip and the photo are named for what they show, not for the object's label.
    assert cards.nth(0).locator(".ref-strip").get_attribute("aria-label") == "Reference photos of owl"
    # Each photo's own credit under it, linking its own page.
    credit = cards.nth(2).get_by_test_id("credit")
    assert credit.inner_text() == "COCO image 370"
    assert credit.locator("a").get_attribute("href") == COCO["source_url"]
    assert check_screen(page)["axe"] == []

    cards.nth(0).get_by_test_id("reference").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    assert page.locator("#viewer-title").inner_text() == "Owl"
    caption = page.locator("#viewer-caption")
    assert caption.inner_text() == "owl.jpg from Open Images (google-coral/test_data) · licence Apache-2.0"
    assert caption.get_by_role("link", name="Apache-2.0").get_attribute("href") == CORAL["license_url"]
    assert page.locator("#viewer-open").get_attribute("href") == CORAL["source_url"]
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    cards.nth(2).get_by_test_id("reference").click()
    viewer.wait_for(state="visible")
    assert caption.inner_text() == "COCO image 370 from COCO 2017 · licence: see its page"
    assert page.locator("#viewer-open").get_attribute("href") == COCO["source_url"]
    assert page.locator("#viewer-open").inner_text() == "Photo's page"
    assert not page.errors, page.errors


def _drawing(word: str, key_id: str):
    from training.data.quickdraw import _fmt_dir, read_ndjson

    return next(d for d in read_ndjson(_fmt_dir("raw") / f"{word}.ndjson") if str(d.key_id) == key_id)


def test_a_real_job_with_a_not_sure_object(app_url, phone):
    """A scene drawn by touch: a held-out cat, and a held-out cello the classifier hesitates over
    (cello, violin or guitar). Each card says "not sure" exactly when the job's object is
    ``confident: false``, in the words of its candidates. (``SKETCHREF_DOCS_SCREENSHOTS=1`` writes
    this result to ``docs/screenshots/result.png``.)"""
    from tests.web.test_app import shot

    page = phone
    page.goto(app_url + "/")
    x, y, w, h = canvas_box(page)
    finger = Finger(page)
    finger.draw(fit_strokes(held_out_drawing("cat").strokes, (x, y, w, h * 0.45), 0.12))
    finger.draw(fit_strokes(_drawing("cello", "5438765713588224").strokes, (x, y + h * 0.45, w, h * 0.55), 0.12))
    with page.expect_response(lambda r: r.url.endswith("/v1/jobs") and r.request.method == "POST") as posted:
        page.get_by_test_id("submit").click()
    page.wait_for_function("() => window.sketchref.mode === 'result'", timeout=60_000)
    job = httpx.get(f"{app_url}/v1/jobs/{posted.value.json()['id']}", timeout=30).json()
    objects = job["objects"]
    assert len(objects) == 2, [o["labels"][:3] for o in objects]
    assert [o["confident"] for o in objects].count(False) >= 1, [o["labels"][:3] for o in objects]
    cards = page.locator(".object-card")
    for i, o in enumerate(objects):
        note = cards.nth(i).get_by_test_id("not-sure")
        if o["confident"]:
            assert note.count() == 0
        else:
            names = [c["label"] for c in o["labels"][:3]]
            assert note.inner_text().startswith("Not sure — maybe") and all(n in note.inner_text() for n in names)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=reference] img')].every(i => i.complete)", timeout=60_000)
    page.wait_for_timeout(500)
    shot(page, "06-result-not-sure", docs="result.png")
    assert check_screen(page)["axe"] == []
    assert not page.errors, page.errors
