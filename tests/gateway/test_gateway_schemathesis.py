"""The OpenAPI document is the truth: schemathesis (property-based, every check) against a real
gateway with workers (test doubles for the models), Redis and S3. 0 failures at >= 300 cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.services.stack import start_gateway, start_worker

KEY = "schemathesis-key-123456"
CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_CASES = 300


@pytest.fixture(scope="module")
def stack(stack_env):
    from tests.fakes.unsplash import KEY as UNSPLASH_KEY
    from tests.fakes.unsplash import FakeUnsplash

    fake = FakeUnsplash().start()
    url = stack_env["SKETCHREF_REDIS_URL"].rsplit("/", 1)[0] + "/8"  # queues of its own
    redis.Redis.from_url(url).flushdb()
    env = dict(stack_env, SKETCHREF_REDIS_URL=url, SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY=UNSPLASH_KEY,
               SKETCHREF_RECOMMENDER_UNSPLASH_API_URL=fake.url)
    workers = [start_worker(env, k) for k in ("detector", "classifier", "recommender")]
    gw, base = start_gateway(env, SKETCHREF_GATEWAY_API_KEYS=KEY)
    try:
        yield base
    finally:
        gw.stop()
        for w in workers:
            w.stop()
        fake.stop()


def run_schemathesis(base: str, out: Path, max_examples: int = 30, seed: int = 7) -> tuple[int, dict, str]:
    st = Path(sys.executable).parent / "st"
    cmd = [str(st), "--config-file", str(CONFIG), "run", f"{base}/openapi.json", "--checks", "all", "--max-examples", str(max_examples),
           "--seed", str(seed), "--workers", "1", "--generation-database", "none", "--no-color",
           "--request-timeout", "30", "-H", f"Authorization: Bearer {KEY}",
           "--report", "json", "--report-json-path", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, NO_COLOR="1"))
    report = json.loads(out.read_text()) if out.exists() else {}  # kept for a failing run's details
    (out.parent / "st-output.txt").write_text(p.stdout + p.stderr)
    return p.returncode, report, p.stdout[-20000:] + p.stderr[-4000:]


def test_schemathesis_finds_nothing(stack, tmp_path):
    rc, report, output = run_schemathesis(stack, tmp_path / "report.json")
    assert rc == 0, output
    import re

    m = re.search(r"(\d+) generated, (\d+) passed", output)
    assert m, output
    assert int(m.group(1)) >= MIN_CASES and m.group(1) == m.group(2), m.group(0)
