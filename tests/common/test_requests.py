"""The shared request model: bounds, strictness and the cross-field rules, without a server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.core.requests import StrokesBody, StrokesError, check_strokes, render_cost


def _body(**kw):
    d = {"strokes": [[[1.0, 5.0], [1.0, 5.0]]], "width": 10, "height": 10}
    d.update(kw)
    return StrokesBody.model_validate(d)


@pytest.mark.parametrize("kw", [{"width": "10"}, {"width": True}, {"width": 10.5}, {"width": 0},
                                {"width": 5000}, {"stroke_width": float("nan")}, {"top_k": 0},
                                {"references": -1}, {"strokes": [[[float("inf")], [1.0]]]}])
def test_refused(kw):
    with pytest.raises(ValidationError):
        _body(**kw)


def test_cross_field_rules():
    with pytest.raises(StrokesError) as e:
        check_strokes(_body(strokes=[[[1.0, 2.0], [1.0]]]))
    assert e.value.code == "invalid_strokes"
    with pytest.raises(StrokesError) as e:
        check_strokes(_body(strokes=[[[50.0, 60.0], [1.0, 2.0]]]))
    assert e.value.code == "strokes_outside_canvas"
    with pytest.raises(StrokesError) as e:
        check_strokes(_body(), max_points=1)
    assert e.value.status == 413
    check_strokes(_body())


def test_render_cost_grows_with_points_width_and_canvas():
    base = render_cost(_body())
    assert render_cost(_body(stroke_width=40)) > base
    assert render_cost(_body(width=4000, height=4000)) > base
    assert render_cost(_body(strokes=[[[1.0] * 50, [1.0] * 50]])) > base
