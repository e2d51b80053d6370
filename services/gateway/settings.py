"""Settings of the gateway (env prefix ``SKETCHREF_``), on top of the common ones.

Read through :func:`get_gateway_settings` (cached; tests call ``cache_clear()`` or pass settings to
``create_app``). API keys are secrets: no default, never logged or answered.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr

from services.common.settings import CommonSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"


class GatewaySettings(CommonSettings):
    # Comma-separated API keys; when set, /v1/* needs "Authorization: Bearer <key>" (or X-API-Key).
    api_keys: SecretStr | None = None
    job_ttl_s: int = 24 * 3600
    # A job not finished this many seconds after submission is marked failed.
    job_deadline_s: float = 300.0
    sweep_interval_s: float = 5.0
    # An unfinished job unchanged this long has its current stage sent again (a message lost with a
    # killed worker), at most stall_max_requeues times; 0 turns it off. Stages are idempotent.
    stall_requeue_s: float = 60.0
    stall_max_requeues: int = 3
    # Per-client limit on POST /v1/jobs (client: the API key when auth is on, else the IP address),
    # counted in Redis (see ratelimit.py). 0 turns it off. Burst: how many a client may send at once
    # after being idle (default: a minute's worth).
    rate_limit_per_minute: int = 60
    rate_limit_burst: int | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_000_000
    # Strokes JSON limits.
    max_strokes: int = 2_000
    max_points: int = 100_000
    max_canvas_side: int = 4096
    default_top_k: int = 5
    max_top_k: int = 50
    default_references: int = 6
    max_references: int = 30
    static_dir: Path = STATIC_DIR
    # /docs (Swagger UI), /redoc and /openapi.json, served offline; false turns all three off.
    docs_enabled: bool = True

    def api_key_list(self) -> list[bytes]:
        if self.api_keys is None:
            return []
        return [k.strip().encode() for k in self.api_keys.get_secret_value().split(",") if k.strip()]


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()
