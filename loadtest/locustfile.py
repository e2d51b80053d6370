"""Load test: users that draw, submit and poll the way the phone app does.

Each user composes a sketch from 1–3 real Quick, Draw! drawings placed on a phone-sized canvas, then
either sends the strokes as JSON (what the app sends) or renders them to a PNG with the project's one
rasteriser and uploads that; then polls ``GET /v1/jobs/{id}`` with the app's backoff (250 ms × 1.5 up
to 2 s) until the job has succeeded or failed. The submit-to-done time is recorded as a custom locust
event of type ``JOB`` (``succeeded`` / ``failed``), so the locust reports show job latency next to the
HTTP requests, and every job's latency is written to ``$SKETCHREF_LOAD_REPORT_DIR/jobs.json``.

    locust -f loadtest/locustfile.py --headless -u 10 -r 2 -t 60s --host http://127.0.0.1:8000

(from the repository root: locust puts the working directory on ``sys.path``, so ``loadtest`` is a
package here; ``services`` and ``training`` are installed.)

Settings (environment): ``SKETCHREF_LOAD_API_KEY`` (Bearer key when the gateway has auth on),
``SKETCHREF_LOAD_PNG_SHARE`` (fraction of users' jobs sent as PNG, default 0.5),
``SKETCHREF_LOAD_MAX_WAIT_S`` (a job not done by then counts as failed, default 120),
``SKETCHREF_LOAD_REPORT_DIR`` (where jobs.json goes, default reports/load).
Drawings come from ``<shared>/data/quickdraw/simplified`` (or ``raw``), the shared folder's real
drawings (``SKETCHREF_SHARED_DIR``).
"""

from __future__ import annotations

import io
import json
import os
import random
import time
import uuid
from pathlib import Path

from locust import HttpUser, between, events, task

from loadtest.scenes import DRAWINGS, compose_scene, load_drawings, render_strokes

ROOT = Path(__file__).resolve().parents[1]

PNG_SHARE = float(os.environ.get("SKETCHREF_LOAD_PNG_SHARE", "0.5"))
MAX_WAIT_S = float(os.environ.get("SKETCHREF_LOAD_MAX_WAIT_S", "120"))
REPORT_DIR = Path(os.environ.get("SKETCHREF_LOAD_REPORT_DIR", ROOT / "reports" / "load"))
JOBS: list[dict] = []  # every finished job of this run: latency, status, objects
_RUN = {"start": None, "stop": None}


@events.init.add_listener
def _load(environment, **_):
    if not DRAWINGS:
        DRAWINGS.extend(load_drawings())


@events.test_start.add_listener
def _start(environment, **_):
    JOBS.clear()
    _RUN["start"] = time.time()


@events.test_stop.add_listener
def _stop(environment, **_):
    _RUN["stop"] = time.time()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "jobs.json").write_text(json.dumps(
        {"started": _RUN["start"], "stopped": _RUN["stop"], "jobs": JOBS}, indent=1))


class SketchUser(HttpUser):
    """One person with the app open: draw (a few seconds), submit, watch the result, repeat."""

    wait_time = between(1.0, 3.0)

    def on_start(self):
        self.rng = random.Random(uuid.uuid4().int)
        key = os.environ.get("SKETCHREF_LOAD_API_KEY")
        self.auth = {"Authorization": f"Bearer {key}"} if key else {}

    def _submit(self):
        strokes, w, h = compose_scene(self.rng)
        headers = {"Idempotency-Key": uuid.uuid4().hex, **self.auth}
        if self.rng.random() < PNG_SHARE:
            buf = io.BytesIO()
            render_strokes(strokes, size=(w, h), stroke_width=6.0, margin=None).save(buf, format="PNG")
            return self.client.post("/v1/jobs", files={"image": ("sketch.png", buf.getvalue(), "image/png")},
                                    headers=headers, name="POST /v1/jobs (png)", catch_response=True)
        return self.client.post("/v1/jobs", json={"strokes": strokes, "width": w, "height": h},
                                headers=headers, name="POST /v1/jobs (strokes)", catch_response=True)

    @task
    def draw_submit_poll(self):
        t0 = time.perf_counter()
        with self._submit() as r:
            if r.status_code != 202:
                r.failure(f"submit answered {r.status_code}: {r.text[:200]}")
                self._job_event(t0, "submit_rejected", {})
                return
            job = r.json()
        delay = 0.25
        while job.get("status") not in ("succeeded", "failed"):
            if time.perf_counter() - t0 > MAX_WAIT_S:
                self._job_event(t0, "timeout", job)
                return
            time.sleep(delay)
            with self.client.get(f"/v1/jobs/{job['id']}", headers=self.auth, name="GET /v1/jobs/[id]",
                                 catch_response=True) as pr:
                if pr.status_code == 200:
                    job = pr.json()
                    delay = min(delay * 1.5, 2.0)
                elif pr.status_code == 429 or pr.status_code >= 500:
                    pr.failure(f"poll answered {pr.status_code}")
                    delay = min(max(delay * 2, 1.0), 8.0)
                else:
                    pr.failure(f"poll answered {pr.status_code}: {pr.text[:200]}")
                    self._job_event(t0, "poll_error", job)
                    return
        self._job_event(t0, job["status"], job)

    def _job_event(self, t0: float, outcome: str, job: dict) -> None:
        ms = (time.perf_counter() - t0) * 1000.0
        ok = outcome == "succeeded"
        reason = (job.get("error") or {}).get("message") if isinstance(job.get("error"), dict) else job.get("error")
        JOBS.append({"ms": ms, "status": outcome, "objects": len(job.get("objects") or []),
                     "timings_ms": job.get("timings_ms")})
        self.environment.events.request.fire(
            request_type="JOB", name="succeeded" if ok else "failed", response_time=ms,
            response_length=len(job.get("objects") or []),
            exception=None if ok else RuntimeError(f"job {outcome}: {reason or ''}".strip()),
            context={}, url=None, response=None)
