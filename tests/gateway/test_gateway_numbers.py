"""Numbers never crash: every numeric field of ``POST /v1/jobs`` (JSON body, query, form) against a
real gateway process. Non-finite, huge, negative, fractional or wrong-typed values are a 422 that
names the field; strokes entirely outside the canvas and over-costly drawings are refused."""

from __future__ import annotations

import httpx
import pytest

from services.common.settings import ROOT

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()
GOOD = '{"strokes": [[[10, 60, 110], [10, 110, 10]]], "width": 128, "height": 128'
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400, "-1", "0", "1e9",
               '"7"', "true", "[1]", '{"a": 1}', "2.5"]


@pytest.fixture(scope="module")
def client(gateway):
    with httpx.Client(base_url=gateway, timeout=60) as c:
        yield c
        assert c.get("/healthz").status_code == 200


def _post_json(c, text: str):
    return c.post("/v1/jobs", content=text, headers={"content-type": "application/json"})


def _refused(r: httpx.Response, field: str) -> None:
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message"}
    if r.status_code == 422:
        assert field in err["message"], err


@pytest.mark.parametrize("field", ["width", "height", "top_k", "references", "stroke_width"])
@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_every_bad_number_in_the_json_body(client, field, bad):
    if field in ("top_k", "references", "stroke_width"):
        text = GOOD + f', "{field}": {bad}}}'
    else:
        text = GOOD.replace(f'"{field}": 128', f'"{field}": {bad}') + "}"
    r = _post_json(client, text)
    if field == "references" and bad == "0" or field == "stroke_width" and bad == "2.5":
        assert r.status_code == 202, r.text  # in range
        return
    assert r.status_code == 422, (bad, r.text)
    _refused(r, field)


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_every_bad_coordinate(client, bad):
    r = _post_json(client, '{"strokes": [[[10, ' + bad + ', 110], [10, 110, 10]]], "width": 128, "height": 128}')
    if bad in ("-1", "0", "2.5"):  # finite, on the canvas (a point just off it is fine)
        assert r.status_code == 202, r.text
        return
    if bad == "1e9":
        assert r.status_code == 422 and "strokes.0.0.1" in r.json()["error"]["message"], r.text
        return
    assert r.status_code == 422, (bad, r.text)
    _refused(r, "strokes")
    if bad in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400):
        assert r.json()["error"]["code"] == "invalid_number"


@pytest.mark.parametrize("field", ["top_k", "references"])
@pytest.mark.parametrize("bad", ["NaN", "inf", "-inf", "1e400", "-1e400", "9" * 400, "-1", "1e9", "abc", "2.5"])
def test_every_bad_number_as_query_and_form_field(client, field, bad):
    q = client.post("/v1/jobs", params={field: bad}, files={"image": ("s.png", SKETCH, "image/png")})
    assert q.status_code == 422, q.text
    _refused(q, field)
    f = client.post("/v1/jobs", data={field: bad}, files={"image": ("s.png", SKETCH, "image/png")})
    assert f.status_code == 422, f.text
    _refused(f, field)


def test_good_numbers_are_used(client):
    r = client.post("/v1/jobs", params={"top_k": "3"}, data={"references": "0"},
                    files={"image": ("s.png", SKETCH, "image/png")})
    assert r.status_code == 202, r.text
    assert (r.json()["top_k"], r.json()["references"]) == (3, 0)
    r = _post_json(client, GOOD + ', "top_k": 7, "references": 2, "stroke_width": 3.5}')
    assert r.status_code == 202 and (r.json()["top_k"], r.json()["references"]) == (7, 2)


def test_nesting_and_shapes(client):
    deep = "[" * 100_000 + "]" * 100_000
    r = _post_json(client, '{"strokes": ' + deep + ', "width": 10, "height": 10}')
    assert r.status_code in (400, 422) and r.json()["error"]["code"] in ("invalid_json", "invalid_strokes")
    for text in ('{"strokes": [[[1, 2], [3, 4], [5, 6], [7, 8]]], "width": 10, "height": 10}',
                 '{"strokes": [[[[1]], [3]]], "width": 10, "height": 10}',
                 '{"strokes": [[1, 2]], "width": 10, "height": 10}',
                 '{"strokes": "x", "width": 10, "height": 10}',
                 '{"strokes": [[[1, 2], [3, 4]]], "width": [10], "height": 10}'):
        r = _post_json(client, text)
        assert r.status_code == 422, (text, r.text)


def test_strokes_entirely_outside_the_canvas(client):
    r = _post_json(client, '{"strokes": [[[500, 600], [500, 600]]], "width": 128, "height": 128}')
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "strokes_outside_canvas"
    assert "outside the 128x128 canvas" in r.json()["error"]["message"]
    r = _post_json(client, '{"strokes": [[[10, 20], [10, 20]], [[-90, -50], [5, 6]]], "width": 128, "height": 128}')
    assert r.status_code == 422 and "strokes.1" in r.json()["error"]["message"], r.text
    # a stroke that only crosses the canvas (both ends outside) is on it
    r = _post_json(client, '{"strokes": [[[-50, 200], [64, 64]]], "width": 128, "height": 128}')
    assert r.status_code == 202, r.text


def test_rendering_cost_is_capped_before_rendering(client):
    import random

    rng = random.Random(0)
    xs = [round(rng.uniform(0, 4000), 1) for _ in range(100_000)]
    ys = [round(rng.uniform(0, 3999), 1) for _ in range(100_000)]
    r = client.post("/v1/jobs", json={"strokes": [[xs, ys]], "width": 4000, "height": 3999, "stroke_width": 64})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "render_too_costly"


def test_openapi_schema_is_as_strict_as_the_server(client):
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    props = body["properties"]
    assert props["width"]["maximum"] == 4096 and props["width"]["minimum"] == 1
    coord = props["strokes"]["items"]["items"]["items"]
    assert coord["type"] == "number" and coord["maximum"] == 1e6
    params = {p["name"]: p for p in doc["paths"]["/v1/jobs"]["post"]["parameters"]}
    assert params["top_k"]["schema"]["anyOf"][0]["maximum"] == 50
