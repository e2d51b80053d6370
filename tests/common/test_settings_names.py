"""Environment names follow one scheme (DESIGN.md §6): ``SKETCHREF_<NAME>`` for what every service
shares, ``SKETCHREF_<SERVICE>_<NAME>`` for a service's own, and a renamed variable is still read under
its old name for one release, with a warning at start."""

from __future__ import annotations

import logging

import pytest
from pydantic import AliasChoices

from services.classifier.settings import ClassifierSettings
from services.common.settings import CommonSettings, renamed_in_use, warn_renamed
from services.detector.settings import DetectorSettings
from services.gateway.settings import GatewaySettings
from services.recommender.settings import RecommenderSettings

pytestmark = pytest.mark.unit

SERVICES = {"gateway": GatewaySettings, "detector": DetectorSettings, "classifier": ClassifierSettings,
            "recommender": RecommenderSettings}


def env_name(cls, field: str) -> str:
    """The name a field is read from first."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return (cls.model_config.get("env_prefix", "") + field).upper()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_reads_its_own_settings_under_its_prefix(service):
    cls = SERVICES[service]
    for field in cls.model_fields:
        name = env_name(cls, field)
        if field in CommonSettings.model_fields:
            assert name == f"SKETCHREF_{field.upper()}", (service, field)
        else:
            assert name == f"SKETCHREF_{service.upper()}_{field.upper()}", (service, field)


def test_new_names_are_read_and_win_over_old_ones(monkeypatch):
    monkeypatch.setenv("SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("SKETCHREF_RATE_LIMIT_PER_MINUTE", "3")
    monkeypatch.setenv("SKETCHREF_RECOMMENDER_UNSPLASH_PER_PAGE", "9")
    assert GatewaySettings().rate_limit_per_minute == 7
    assert RecommenderSettings().unsplash_per_page == 9


def test_old_names_still_work_and_are_reported(monkeypatch, caplog):
    monkeypatch.setenv("SKETCHREF_RATE_LIMIT_PER_MINUTE", "3")
    monkeypatch.setenv("SKETCHREF_UNSPLASH_PER_PAGE", "5")
    monkeypatch.setenv("SKETCHREF_REDIS_URL", "redis://example:1/0")  # shared: not renamed
    g, r = GatewaySettings(), RecommenderSettings()
    assert (g.rate_limit_per_minute, r.unsplash_per_page, g.redis_url) == (3, 5, "redis://example:1/0")
    assert renamed_in_use(GatewaySettings) == [("SKETCHREF_RATE_LIMIT_PER_MINUTE",
                                                "SKETCHREF_GATEWAY_RATE_LIMIT_PER_MINUTE")]
    with caplog.at_level(logging.WARNING):
        warn_renamed(RecommenderSettings, logging.getLogger("t"))
    assert "SKETCHREF_UNSPLASH_PER_PAGE is renamed SKETCHREF_RECOMMENDER_UNSPLASH_PER_PAGE" in caplog.text


def test_a_shared_setting_keeps_its_shared_name_first(monkeypatch):
    """``SKETCHREF_GATEWAY_REDIS_URL`` is the gateway's own spelling of a shared setting: read only
    when the shared ``SKETCHREF_REDIS_URL`` is not set."""
    monkeypatch.setenv("SKETCHREF_GATEWAY_REDIS_URL", "redis://gateway:1/0")
    monkeypatch.setenv("SKETCHREF_REDIS_URL", "redis://shared:1/0")
    assert GatewaySettings().redis_url == "redis://shared:1/0"
    monkeypatch.delenv("SKETCHREF_REDIS_URL")
    assert GatewaySettings().redis_url == "redis://gateway:1/0"


def test_values_by_field_name_and_secrets_stay_hidden():
    s = GatewaySettings(api_keys="k1,k2", rate_limit_per_minute=0)
    assert s.api_key_list() == [b"k1", b"k2"] and s.rate_limit_per_minute == 0
    assert "k1" not in repr(s)
    r = RecommenderSettings(provider="local", unsplash_access_key="uk-9f2c7")
    assert r.provider == "local" and "uk-9f2c7" not in repr(r)


def test_no_old_name_left_in_manifests_and_docs():
    """The deployment and the docs say the new names (the old ones are only read for the rename)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    olds = {old for cls in SERVICES.values() for f in cls.model_fields.values()
            if isinstance(f.validation_alias, AliasChoices) for old in f.validation_alias.choices[1:]}
    texts = [p for pat in ("k8s/**/*.yaml", "docker-compose*.yml", "docs/*.md", "README.md") for p in root.glob(pat)]
    import re

    for p in texts:
        found = {o for o in olds if re.search(rf"(?<![A-Z_]){re.escape(str(o).upper())}\b", p.read_text())}
        assert not found, (p.name, found)


def test_one_settings_class_per_service():
    """Every settings class in the services is the shared one or a service's, and every service's
    extends the shared one: a worker reads one class (its own), never a section beside it."""
    import ast

    from services.common.settings import ROOT

    found = {}
    for path in sorted((ROOT / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id.endswith("Settings") for b in node.bases):
                found[node.name] = path.relative_to(ROOT).as_posix()
    assert found == {"CommonSettings": "services/common/settings.py",
                     **{cls.__name__: f"services/{svc}/settings.py" for svc, cls in SERVICES.items()}}
    assert all(issubclass(cls, CommonSettings) for cls in SERVICES.values())
