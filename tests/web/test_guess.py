"""Live guesses: ``POST /v1/guess`` on the real gateway (ONNX model, no job), and the app showing the
top 3 while a person draws by touch, "not sure" when the model is not, without submitting anything.
"""

from __future__ import annotations

import httpx

from tests.web.phone import Finger, canvas_box, draw_drawing, fit_strokes, held_out_drawing

WAIT_MS = 30_000


def _body(drawing, w=392, h=640) -> dict:
    pts = fit_strokes(drawing.strokes, (0, 0, w, h), 0.14)
    return {"strokes": [[[p[0] for p in s], [p[1] for p in s]] for s in pts], "width": w, "height": h}


def _names() -> set[str]:
    from training.data.quickdraw import class_names

    return set(class_names())


def test_guess_api(web_gateway):
    with httpx.Client(base_url=web_gateway, timeout=30) as c:
        r = c.post("/v1/guess", json=_body(held_out_drawing("cat")))
        assert r.status_code == 200, r.text
        out = r.json()
        assert len(out["guesses"]) == 3 and out["model"].startswith("guess-")
        assert [g["label"] for g in out["guesses"]][0] == "cat"  # a clear, held-out cat
        scores = [g["score"] for g in out["guesses"]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
        assert out["confident"] is out["guesses"][0]["confident"]
        assert {g["label"] for g in out["guesses"]} <= _names()
        assert len(c.post("/v1/guess", json={**_body(held_out_drawing("cat")), "top_k": 5}).json()["guesses"]) == 5
        # A guess is not a job: nothing was queued or stored.
        assert "sketchref_jobs_total" in c.get("/metrics").text
        # Bad input is a clear 4xx JSON error, never a 500.
        for bad, status in [({"strokes": [], "width": 10, "height": 10}, 422),
                            ({"strokes": [[[1, 2], [3]]], "width": 10, "height": 10}, 422),
                            ({**_body(held_out_drawing("cat")), "top_k": 99}, 422)]:
            r = c.post("/v1/guess", json=bad)
            assert r.status_code == status, r.text
            assert r.json()["error"]["code"] and r.json()["error"]["message"]
        r = c.post("/v1/guess", content=b"{nope", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_live_guesses_while_drawing(app_url, phone):
    page = phone
    page.goto(app_url + "/")
    answers, jobs = [], []
    page.on("response", lambda res: answers.append(res) if res.url.endswith("/v1/guess") else None)
    page.on("request", lambda req: jobs.append(req.url) if "/v1/jobs" in req.url else None)
    line = page.get_by_test_id("guesses")
    assert "appear as you draw" in line.inner_text()

    # Two crossing lines: the model is not sure, and the app says so.
    x, y, w, h = canvas_box(page)
    finger = Finger(page)
    finger.stroke([(x + 0.15 * w, y + 0.15 * h), (x + 0.85 * w, y + 0.15 * h)])
    finger.stroke([(x + 0.2 * w, y + 0.6 * h), (x + 0.8 * w, y + 0.45 * h)])
    page.wait_for_function("() => window.sketchref.guesses.last.shownAt > 0", timeout=WAIT_MS)
    last = answers[-1].json()
    chips = page.get_by_test_id("guess")
    assert chips.count() == len(last["guesses"]) == 3
    assert [t.rstrip("?").lower() for t in chips.all_inner_texts()] == [g["label"] for g in last["guesses"]]
    assert last["confident"] is False
    assert line.inner_text().startswith("Not sure")
    assert line.get_attribute("data-state") == "unsure"

    # Clear, then a held-out cat: guessed after each stroke, confidently, top 3 shown.
    page.get_by_test_id("clear").click()
    page.wait_for_function("() => document.querySelector('[data-testid=guesses]').dataset.state === 'idle'")
    n_before = len(answers)
    n = draw_drawing(page, held_out_drawing("cat"))
    page.wait_for_function("() => window.sketchref.guesses.last.shownAt > 0", timeout=WAIT_MS)
    assert n_before < len(answers) <= n_before + n  # at most one guess per stroke (debounced)
    final = answers[-1].json()
    assert final["guesses"][0]["label"] == "cat" and final["confident"] is True
    assert page.get_by_test_id("guess").first.inner_text() == "Cat"
    assert line.inner_text().startswith("Looks like")
    assert jobs == []  # guessing submitted no job
    assert not page.errors, page.errors
