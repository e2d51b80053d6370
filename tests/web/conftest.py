"""Fixtures for the phone app's browser tests: the real stack and a phone-sized Chromium.

The stack is the services engineer's (``tests/services/stack.py``): real redis-server, SeaweedFS, the
three Celery workers and uvicorn, on free loopback ports. Here the workers run the real models
(``SKETCHREF_WEB_MODELS=doubles`` swaps in the plumbing doubles, for working on the UI without
weights). The recommender runs per test module, so one module can use the local gallery and another
Unsplash; Unsplash is the fake API server of ``tests/fakes/unsplash.py`` (the only fake).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.fakes.unsplash import KEY, FakeUnsplash  # noqa: E402
from tests.services.stack import (  # noqa: E402,F401
    redis_url,
    s3_endpoint,
    stack_env,
    start_gateway,
    start_worker,
    wait_job,
)
from tests.web.phone import CHROMIUM, CHROMIUM_ARGS, DOUBLES, PHONE, artifacts_dir  # noqa: E402

WARMUP = {"strokes": [[[10, 60, 110, 10], [10, 110, 10, 10]]], "width": 128, "height": 128}


@pytest.fixture(scope="session")
def fake_unsplash():
    fake = FakeUnsplash().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def web_env(stack_env, fake_unsplash) -> dict:  # noqa: F811
    env = dict(stack_env)
    env.update({"SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY": KEY, "SKETCHREF_RECOMMENDER_UNSPLASH_API_URL": fake_unsplash.url})
    return env


@pytest.fixture(scope="session")
def web_gateway(web_env):
    """Detector and classifier workers plus the gateway (which serves the app at ``/``)."""
    procs = [start_worker(web_env, "detector", doubles=DOUBLES)]
    extra = {"SKETCHREF_CLASSIFIER_LOADER": "tests.web.doubles:load_classifier"} if DOUBLES else {}
    procs.append(start_worker(web_env, "classifier", doubles=DOUBLES, **extra))
    gw, url = start_gateway(web_env)
    procs.append(gw)
    try:
        yield url
    finally:
        for p in reversed(procs):
            p.stop()


def _recommender(web_env, web_gateway, provider: str):
    # Always the real recommender: it needs no trained weights (gallery photos, Unsplash).
    p = start_worker(web_env, "recommender", doubles=False, SKETCHREF_RECOMMENDER_PROVIDER=provider)
    try:
        # Warm every stage (model loading, the gallery build) so the tests see a steady stack.
        with httpx.Client(base_url=web_gateway, timeout=10) as c:
            job = c.post("/v1/jobs", json=WARMUP).json()
            done = wait_job(c, job["id"], timeout=600)
            assert done["status"] in ("succeeded", "failed"), done
            assert p.alive(), "\n".join(p.lines[-30:])
        yield web_gateway
    finally:
        p.stop()


@pytest.fixture(scope="module")
def app_url(web_env, web_gateway):
    """The gateway's base URL, with the recommender on the local gallery (real photos, served by the
    gateway's ``/v1/gallery`` routes)."""
    yield from _recommender(web_env, web_gateway, "local")


@pytest.fixture(scope="module")
def unsplash_app_url(web_env, web_gateway):
    """The gateway's base URL, with the recommender on Unsplash (the fake API server)."""
    yield from _recommender(web_env, web_gateway, "unsplash")


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium, request):
    """A fresh phone context (412x915, touch, device scale 2) and page; console errors are collected
    in ``page.errors`` and a screenshot is kept when the test fails."""
    ctx = chromium.new_context(**PHONE, service_workers="allow")
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        page.screenshot(path=str(artifacts_dir() / f"FAILED-{request.node.name}.png"))
    ctx.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)



@pytest.fixture
def unworked_url(web_env, app_url):
    """A gateway on a Redis database of its own, where no worker listens: its jobs stay queued, as on
    a stack whose workers are still starting."""
    env = dict(web_env)
    env["SKETCHREF_REDIS_URL"] = env["SKETCHREF_REDIS_URL"].rsplit("/", 1)[0] + "/7"
    p, url = start_gateway(env)
    try:
        yield url
    finally:
        p.stop()


def pytest_generate_tests(metafunc):
    """``SKETCHREF_WEB_REPEAT=5`` runs every browser test 5 times in a row on one stack (a flakiness
    check; pytest-repeat is not a dependency)."""
    n = int(os.environ.get("SKETCHREF_WEB_REPEAT", "1"))
    if n > 1:
        metafunc.fixturenames.append("_repeat")
        metafunc.parametrize("_repeat", range(n))
