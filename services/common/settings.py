"""Settings shared by every service: where things live and how to reach Redis and S3.

One ``Settings`` class per service (this one, plus one in each service package), all read from the
environment with the ``SKETCHREF_`` prefix through a cached getter. Tests override them by setting
environment variables and calling ``get_settings.cache_clear()``. Secrets have no default and are
``SecretStr``, so they never show up in a repr or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHREF_", extra="ignore")

    # Where the read-only data and pretrained models live (the project's sibling ``shared`` folder).
    shared_dir: Path = ROOT.parent / "shared"
    # Where assets fetched from their public URLs are cached when ``shared_dir`` lacks them.
    assets_dir: Path = ROOT / ".assets"
    # Optional mirror that replaces the public hosts of every asset URL (a real user's local mirror).
    asset_mirror: str | None = None
    # Shipped, trained artifacts.
    models_dir: Path = ROOT / "models"
    # Embedded mode keeps sketches, crops and caches here instead of S3.
    local_storage_dir: Path = ROOT / ".cache" / "storage"

    redis_url: str = "redis://127.0.0.1:6379/0"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "sketchref"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    # How long a job record (and, through retention, its sketch and crops) is kept after its last change.
    job_ttl_s: int = 24 * 3600

    # Every worker: its Prometheus metrics port (0: none; ``--metrics-port`` wins) and the address it
    # binds (loopback unless told; 0.0.0.0 in the containers), and its log lines (``--log-format`` wins).
    worker_metrics_port: int = 0
    worker_metrics_addr: str = "127.0.0.1"
    log_format: Literal["json", "text"] = "json"


@lru_cache
def get_settings() -> CommonSettings:
    return CommonSettings()
