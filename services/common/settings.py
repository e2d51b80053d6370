"""Settings shared by every service: where things live and how to reach Redis and S3.

One ``Settings`` class per service (this one, plus one in each service package), read from the
environment through a cached getter. Names (DESIGN.md §6): ``SKETCHREF_<NAME>`` for what every
service shares (these fields: Redis, S3, asset mirror, forwarded-allow IPs, ...), and
``SKETCHREF_<SERVICE>_<NAME>`` for a service's own (:func:`service_config`). A renamed variable is
still read under its old name for one release, and :func:`renamed_in_use` lists those a deployment
still sets so that the service can warn. Tests override settings by setting environment variables
and calling the getter's ``cache_clear()``, or by passing values by field name. Secrets have no
default and are ``SecretStr``, so they never show up in a repr or a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AliasGenerator, SecretStr
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
    # Addresses (comma-separated, or "*") whose X-Forwarded-For/-Proto are believed: the ingress or
    # proxy in front of the gateway. Empty (default): nobody's, so the client address is the connection's.
    forwarded_allow_ips: str = ""


PREFIX = "SKETCHREF_"


def service_config(service: str, *, shared: Iterable[str] = (),
                   old_name: Callable[[str], str | None] = lambda field: PREFIX + field) -> SettingsConfigDict:
    """The ``model_config`` of ``service``'s settings class: each field ``x`` is read from
    ``SKETCHREF_<SERVICE>_X``, else from its pre-rename name ``old_name(x)`` (default ``SKETCHREF_X``;
    None: it had none); the ``shared`` fields (those inherited from :class:`CommonSettings`) keep
    ``SKETCHREF_X`` (pydantic-settings then also reads ``SKETCHREF_<SERVICE>_X`` when that is unset:
    one service's own value of a shared setting). Values passed by field name work too."""
    new_prefix = f"{PREFIX}{service.upper()}_"
    shared_names = frozenset(shared)

    def names(field: str) -> AliasChoices:
        if field in shared_names:
            return AliasChoices(PREFIX + field)
        old = old_name(field)
        return AliasChoices(new_prefix + field, *([old] if old and old.lower() != (new_prefix + field).lower() else []))

    return SettingsConfigDict(env_prefix=new_prefix, extra="ignore", populate_by_name=True,
                              alias_generator=AliasGenerator(validation_alias=names))


def renamed_in_use(settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(old, new)`` for each variable set in the environment under a name kept only for the
    rename (its new name not set): what a service warns about at start."""
    env = {k.upper() for k in (os.environ if environ is None else environ)}
    out: list[tuple[str, str]] = []
    for field in settings_cls.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices) and len(alias.choices) > 1:
            new, *olds = (str(c).upper() for c in alias.choices)
            out += [(old, new) for old in olds if old in env and new not in env]
    return out


def warn_renamed(settings_cls: type[BaseSettings], log: logging.Logger) -> None:
    """Log one warning per variable the environment still sets under its pre-rename name."""
    for old, new in renamed_in_use(settings_cls):
        log.warning("%s is renamed %s: the old name is read for this release only", old, new)


@lru_cache
def get_settings() -> CommonSettings:
    return CommonSettings()
