"""Settings of the gateway: its own read from ``SKETCHREF_GATEWAY_<NAME>`` (until this release
``SKETCHREF_<NAME>``, still read), on top of the common ones (``SKETCHREF_<NAME>``).

Read through :func:`get_gateway_settings` (cached; tests call ``cache_clear()`` or pass settings to
``create_app``). API keys are secrets: no default, never logged or answered.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr

from services.common.settings import CommonSettings, service_config, with_flags

STATIC_DIR = Path(__file__).resolve().parent / "static"


class GatewaySettings(CommonSettings):
    model_config = service_config("gateway", shared=CommonSettings.model_fields)

    # Comma-separated API keys; when set, /v1/* needs "Authorization: Bearer <key>" (or X-API-Key).
    api_keys: SecretStr | None = None
    # Comma-separated origins (https://app.example) allowed to call the API from a browser; empty
    # (default): same-origin only.
    cors_origins: str = ""
    # DELETE /v1/jobs/{id} looks for objects a still-running stage wrote once more after this long.
    delete_recheck_s: float = 30.0
    # A job not finished this many seconds after submission is marked failed.
    job_deadline_s: float = 300.0
    sweep_interval_s: float = 5.0
    # The sweeper's leader lock (one gateway replica sweeps); renewed every sweep, taken over when it lapses.
    sweep_leader_ttl_s: float = 15.0
    # An unfinished job unchanged this long has its current stage sent again (a message lost with a
    # killed worker), at most stall_max_requeues times; 0 turns it off. Stages are idempotent.
    stall_requeue_s: float = 15.0
    stall_max_requeues: int = 3
    # Seconds the canary routes (Redis, written by `sketchref models promote|rollback`) are cached.
    route_cache_s: float = 2.0
    # Per-client limit on POST /v1/jobs (client: the API key when auth is on, else the IP address),
    # counted in Redis (see ratelimit.py). 0 turns it off. Burst: how many a client may send at once
    # after being idle (default: a minute's worth).
    rate_limit_per_minute: int = 60
    rate_limit_burst: int | None = None
    # The same for POST /v1/guess (the app asks once per stroke, debounced: a fast drawer makes ~1 a
    # second), its own allowance; 0 turns it off.
    guess_rate_limit_per_minute: int = 240
    guess_rate_limit_burst: int | None = 60
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_000_000
    # Refused by the header, before decoding: longer side over max_aspect_ratio x the shorter; a PNG
    # of more than max_png_chunks chunks or max_png_ancillary_bytes of text/metadata chunks.
    max_aspect_ratio: float = 20.0
    max_png_chunks: int = 2048
    max_png_ancillary_bytes: int = 1024 * 1024
    # Decoded pixels (width x height x bytes per pixel) all uploads in flight may hold together; an
    # upload waits up to decode_budget_wait_s for room, then is answered 503 server_busy.
    decode_budget_bytes: int = 160 * 1024 * 1024
    decode_budget_wait_s: float = 5.0
    # Strokes JSON limits.
    max_strokes: int = 2_000
    max_points: int = 100_000
    max_canvas_side: int = 4096
    # Strokes whose rendering would take longer than about this many nanoseconds are refused (413;
    # see services.core.requests.render_cost); renders run in a pool of this many processes.
    max_render_cost: float = 8e9
    render_processes: int = 2
    default_top_k: int = 5
    max_top_k: int = 50
    default_references: int = 6
    max_references: int = 30
    static_dir: Path = STATIC_DIR
    # Outages answer fast: one attempt with these timeouts on the request path (503 + Retry-After),
    # and /readyz gives each dependency readyz_timeout_s.
    redis_timeout_s: float = 0.75
    s3_connect_timeout_s: float = 1.0
    s3_read_timeout_s: float = 2.0
    readyz_timeout_s: float = 1.5
    outage_retry_after_s: int = 5
    # Backpressure (see backpressure.py): POST answers 503 when a queue has max_queue_depth messages
    # or more (0: no limit), or has had no live consumer for worker_absent_s (after worker_grace_s).
    max_queue_depth: int = 500
    require_workers: bool = True
    worker_check_interval_s: float = 5.0
    worker_ping_timeout_s: float = 2.0
    # generous: a worker's main process on a saturated machine may miss a few pings
    worker_absent_s: float = 60.0
    worker_grace_s: float = 60.0
    # /docs (Swagger UI), /redoc and /openapi.json, served offline; false turns all three off.
    docs_enabled: bool = True

    def api_key_list(self) -> list[bytes]:
        if self.api_keys is None:
            return []
        return [k.strip().encode() for k in self.api_keys.get_secret_value().split(",") if k.strip()]


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return with_flags(GatewaySettings)
