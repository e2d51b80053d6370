"""Honest answers: an object the classifier is not sure of (``confident: false``) reads "Not sure —
maybe a cup, a mug or a vase?"; an object without the field (an older server) is taken as confident.

Rendered by the app's own ``ResultsView`` in the phone browser from job objects shaped as the API
answers them (the stack's answers today carry no ``confident: false`` for a held-out drawing, so the
two cases are given here as data; the end-to-end result screen is in ``test_app.py``).
"""

from __future__ import annotations

from tests.web.a11y import check_screen

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


def test_not_sure_objects_say_so(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    page.evaluate("""async (objects) => {
        const { ResultsView } = await import('/js/results.js');
        const view = new ResultsView({
            overlay: document.querySelector('#overlay'), list: document.querySelector('#object-list'),
            empty: document.querySelector('#empty'), title: document.querySelector('#results-title'),
            labelsDialog: document.querySelector('#labels-dialog'), viewer: document.querySelector('#viewer'),
        });
        document.querySelector('#results').hidden = false;
        view.show({ id: 'x', status: 'succeeded', objects });
    }""", OBJECTS)
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
