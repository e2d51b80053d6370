"""Settings: one class per service, each on top of what every service shares.

:class:`CommonSettings` holds what all services share: where things live, Redis, S3, the asset
mirror, the forwarded-allow IPs, and the infrastructure every process runs on (the queue's delivery
and limits, cross-job batching, the model cache, retention, the alerting budgets). Each service's
class (gateway, detector, classifier, recommender) extends it with its own fields, so a service
reads one class, through one cached getter. Names (DESIGN.md §6): ``SKETCHREF_<NAME>`` for a shared
field (``SKETCHREF_REDIS_URL``, ``SKETCHREF_QUEUE_VISIBILITY_TIMEOUT``), and
``SKETCHREF_<SERVICE>_<NAME>`` for a service's own (:func:`service_config`). A renamed variable is
still read under its old name for one release, and :func:`renamed_in_use` lists those a deployment
still sets so that the service can warn. Command-line flags win over the environment
(:func:`set_flags`). Tests override settings by setting environment variables and calling the
getter's ``cache_clear()``, or by passing values by field name. Secrets have no default and are
``SecretStr``, so they never show up in a repr or a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

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

    # The queue (services/common/queue.py). Seconds after which an unacknowledged message whose lease
    # was not renewed (its worker died) is delivered again. Leases are renewed every
    # queue_lease_renew_s, so this need not exceed a stage; keep it well above queue_lease_renew_s.
    # Stages are idempotent, so a redelivery is harmless.
    queue_visibility_timeout: float = 15.0
    queue_lease_renew_s: float = 3.0
    # Per-stage limits in seconds (JSON in the environment, e.g.
    # SKETCHREF_QUEUE_TIME_LIMIT_S='{"classify": 60}'); a stage not named gets 120 s (soft: 100 s).
    queue_time_limit_s: dict[str, float] = {}
    queue_soft_time_limit_s: dict[str, float] = {}
    queue_max_retries: int = 5
    queue_retry_backoff_max: int = 60
    # How many times the gateway retries a publish before it answers 503.
    queue_publish_retries: int = 3
    # The largest upload (bytes) sent inline to the stages (services/common/inline.py); 0: never
    # (every stage reads S3). The clean image is sent when its compressed form is at most 4x this.
    queue_inline_max_bytes: int = 65536

    # Cross-job batching in a worker (services/core/batching.py, docs/operators.md): at most
    # batch_max_size jobs in one model call (run the worker with that many threads); a leader waits
    # at most batch_max_wait_ms, and only for tasks already started. `sketchref worker --batch-size
    # / --batch-wait-ms` win over these.
    batch_max_size: int = 8
    batch_max_wait_ms: float = 10.0

    # Downloaded model versions land here (an emptyDir or a volume in a container):
    # services/common/model_source.py.
    model_cache_dir: Path = ROOT / ".cache" / "models"

    # Retention (services/common/retention.py): objects of no job are deleted after this grace; a
    # round runs at most this often across all workers.
    retention_orphan_grace_s: int = 3600
    retention_interval_s: float = 600.0

    # Latency budgets: the p95 above which the SketchrefStageP95OverBudget alert fires
    # (`python scripts/monitoring.py write` writes them into k8s/monitoring/). The defaults are
    # ~5-10x the in-process medians of `make bench` on this project's 2-core CPU (detect 45 ms,
    # classify 20 ms, recommend 9 ms with a warm cache; an Unsplash miss adds a few hundred ms):
    # generous enough not to page on a busy node, tight enough to catch a GPU pod that fell back to
    # CPU or a throttled one. Set yours from your own dashboards' p95.
    budget_detect_p95_s: float = 0.5
    budget_classify_p95_s: float = 0.25
    budget_recommend_p95_s: float = 1.0
    # job failure rate (failed / finished over 10 min) above which SketchrefJobFailureRate fires
    budget_failure_rate: float = 0.02

    def stage_p95_budgets(self) -> dict[str, float]:
        return {"detect": self.budget_detect_p95_s, "classify": self.budget_classify_p95_s,
                "recommend": self.budget_recommend_p95_s}


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


S = TypeVar("S", bound=BaseSettings)
_FLAGS: dict[type[BaseSettings], dict[str, Any]] = {}


def set_flags(settings_cls: type[BaseSettings], **values: Any) -> None:
    """Values from this process's command line that win over the environment for ``settings_cls``
    (``sketchref worker --batch-size 4 --model-version v3``): validated now, applied by
    :func:`with_flags` (the services' getters), so clear a getter's cache after setting them."""
    merged = {**_FLAGS.get(settings_cls, {}), **values}
    settings_cls(**merged)
    _FLAGS[settings_cls] = merged


def with_flags(settings_cls: type[S]) -> S:
    """``settings_cls`` read from the environment, with this process's flags on top."""
    return settings_cls(**_FLAGS.get(settings_cls, {}))


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
    return with_flags(CommonSettings)
