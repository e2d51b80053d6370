"""``POST /v1/guess`` on real gateway processes (uvicorn, the real test Redis and S3, no workers): its
drawing is rendered and normalised in the render process pool, not in the gateway's own process, and
it is rate limited per client on an allowance of its own (429 with ``Retry-After``), as label picks
share the submissions' allowance."""

from __future__ import annotations

import random

import httpx
import psutil
import pytest

from tests.services.stack import start_gateway
from tests.web.phone import fit_strokes, held_out_drawing


def _cat() -> dict:
    pts = fit_strokes(held_out_drawing("cat").strokes, (0, 0, 392, 640), 0.14)
    return {"strokes": [[[p[0] for p in s], [p[1] for p in s]] for s in pts], "width": 392, "height": 640}


def _big(seed: int, n: int = 19_000, side: int = 4000) -> dict:
    """A drawing as costly to draw as a guess may be: a random walk of ~20,000 points, thick strokes,
    on a 4000 px canvas (a few hundred ms of Pillow and scipy, all of it holding the GIL)."""
    rng = random.Random(seed)
    x = y = side / 2
    xs, ys = [], []
    for _ in range(n):
        x = min(max(x + rng.uniform(-40, 40), 0), side - 1)
        y = min(max(y + rng.uniform(-40, 40), 0), side - 1)
        xs.append(round(x, 1))
        ys.append(round(y, 1))
    return {"strokes": [[xs, ys]], "width": side, "height": side, "stroke_width": 24}


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


@pytest.fixture(scope="module")
def gateway_proc(stack_env):
    p, url = start_gateway(stack_env)
    try:
        yield p, url
    finally:
        p.stop()


def test_guess_drawing_runs_in_the_render_pool(gateway_proc):
    p, url = gateway_proc
    with httpx.Client(base_url=url, timeout=120) as c:
        first = c.post("/v1/guess", json=_cat())  # loads the model, warms the pool
        assert first.status_code == 200, first.text
        assert first.json()["guesses"][0]["label"] == "cat"  # the same answer as ever, via the pool
        gateway = psutil.Process(p.pid)
        pool = gateway.children(recursive=True)
        assert pool, "the gateway has no render processes"
        main0, pool0 = _cpu(gateway), sum(_cpu(k) for k in pool)
        for seed in range(4):
            r = c.post("/v1/guess", json=_big(seed))
            assert r.status_code == 200, r.text
        main1 = _cpu(gateway)
        pool1 = sum(_cpu(k) for k in gateway.children(recursive=True) if k in pool)
    # The drawing and its normalisation (most of a big guess's cost) were done by the pool's
    # processes; the gateway's own process only parsed the JSON and ran the small model.
    assert pool1 - pool0 > 2 * (main1 - main0), (pool1 - pool0, main1 - main0)


@pytest.fixture(scope="module")
def limited(stack_env):
    # a Redis database of its own: the limits of this client (127.0.0.1) are counted in Redis, and
    # the other modules' gateways must not inherit this one's spent allowance
    env = {**stack_env, "SKETCHREF_REDIS_URL": stack_env["SKETCHREF_REDIS_URL"].rsplit("/", 1)[0] + "/11"}
    p, url = start_gateway(env, SKETCHREF_GATEWAY_GUESS_RATE_LIMIT_PER_MINUTE="2",
                           SKETCHREF_GATEWAY_GUESS_RATE_LIMIT_BURST="2", SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE="1",
                           SKETCHREF_GATEWAY_RATE_LIMIT_BURST="1", SKETCHREF_GATEWAY_REQUIRE_WORKERS="false")
    try:
        yield url
    finally:
        p.stop()


def test_guesses_are_rate_limited_on_their_own_allowance(limited):
    body = _cat()
    with httpx.Client(base_url=limited, timeout=60) as c:
        ok = [c.post("/v1/guess", json=body) for _ in range(2)]
        assert [r.status_code for r in ok] == [200, 200], ok[-1].text
        assert [r.headers["ratelimit-remaining"] for r in ok] == ["1", "0"]
        r = c.post("/v1/guess", json=body)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "rate_limited" and "guesses" in r.json()["error"]["message"]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # Drawing used none of the submissions' allowance: one sketch may still be sent...
        job = c.post("/v1/jobs", json=body)
        assert job.status_code == 202, job.text
        # ...and a label pick counts against that allowance (it queues work as a submission does).
        pick = c.post(f"/v1/jobs/{job.json()['id']}/objects/0/label", json={"label": "cat"})
        assert pick.status_code == 429 and int(pick.headers["retry-after"]) >= 1, pick.text
