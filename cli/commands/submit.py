"""``sketchref submit IMAGE --url URL [--wait]``: send a sketch to a gateway and print the job.

IMAGE is a PNG/JPEG/WebP file, or a ``.json`` file with ``{"strokes", "width", "height"}``. With
``--wait`` the submission waits for the job (``Prefer: wait``), then long polls until it finishes; the
exit status is 0 when it succeeded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("image", type=Path, help="sketch image, or strokes .json")
    parser.add_argument("--url", default=os.environ.get("SKETCHREF_URL", "http://127.0.0.1:8000"),
                        help="gateway base URL (default $SKETCHREF_URL or http://127.0.0.1:8000)")
    parser.add_argument("--wait", action="store_true", help="poll until the job is done")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait at most")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--references", type=int, default=None)
    parser.add_argument("--idempotency-key", default=None)
    parser.add_argument("--api-key", default=None, help="default: $SKETCHREF_API_KEY")


def submit(client, path: Path, top_k=None, references=None, idempotency_key=None, wait_s: float = 0):
    """POST the sketch; with ``wait_s`` the gateway answers when the job has finished (201) or after
    ``wait_s`` seconds (RFC 7240 ``Prefer: wait``), saving a request."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    if wait_s > 0:
        headers["Prefer"] = f"wait={wait_s:g}"
    params = {k: v for k, v in (("top_k", top_k), ("references", references)) if v is not None}
    if path.suffix.lower() == ".json":
        body = json.loads(path.read_text())
        body.update(params)
        return client.post("/v1/jobs", json=body, headers=headers)
    return client.post("/v1/jobs", files={"image": (path.name, path.read_bytes())}, data=params,
                       headers=headers)


def wait(client, job_id: str, timeout: float) -> dict:
    """Long-poll the job (``?wait=``) until it has finished or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        params = {"wait": round(min(max(left, 0.0), 20.0), 1)} if left > 0 else None
        job = client.get(f"/v1/jobs/{job_id}", params=params).raise_for_status().json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() >= deadline:
            return job


def run(args) -> int:
    import httpx

    key = args.api_key or os.environ.get("SKETCHREF_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=30) as client:
        try:
            r = submit(client, args.image, args.top_k, args.references, args.idempotency_key,
                       wait_s=min(args.timeout, 20.0) if args.wait else 0)
        except (OSError, httpx.HTTPError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if r.status_code >= 400:
            print(r.text, file=sys.stderr)
            return 1
        job = r.json()
        if args.wait and job["status"] not in ("succeeded", "failed"):
            job = wait(client, job["id"], args.timeout)
        print(json.dumps(job, indent=2))
    return 0 if not args.wait or job["status"] == "succeeded" else 1
