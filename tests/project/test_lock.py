"""The lock file (requirements/lock.txt, ``make lock``) pins every dependency pyproject.toml names, and
every install (``make setup``, each Dockerfile) goes through it; the shared venv agrees with it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    names = {canonicalize_name(Requirement(r).name) for r in reqs}
    return names - {canonicalize_name(project["name"])}


def test_lock_pins_every_declared_dependency_and_its_extras():
    pins = _pins()
    assert len(pins) > 100, "the lock resolves the whole tree, not only the direct dependencies"
    missing = sorted(_declared() - set(pins))
    assert not missing, f"not in {LOCK.name} (run `make lock`): {missing}"
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert "make lock" in LOCK.read_text().splitlines()[1], "the header names the command that refreshes it"


def test_every_install_goes_through_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK    := requirements/lock.txt" in makefile
    assert "PIP     := $(BIN)/pip install -q -c $(LOCK)" in makefile
    setup = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    recipe = [ln.strip() for ln in setup.splitlines()[1:]]
    bare = [ln for ln in recipe if "pip install" in ln and "--upgrade pip" not in ln]
    assert not bare, f"installs that bypass the lock: {bare}"
    locked = [ln for ln in recipe if ln.startswith("$(PIP) ")]
    assert any("torch==2.14.1" in ln for ln in locked) and any("-e '.[dev]'" in ln for ln in locked), recipe
    dockerfiles = sorted((ROOT / "docker").glob("*.Dockerfile"))
    assert len(dockerfiles) == 5
    for f in dockerfiles:
        runs = re.findall(r"pip install[^&;|\n]*", f.read_text())
        assert runs, f.name
        for r in runs:
            assert "-c requirements/lock.txt" in r, f"{f.name}: {r}"
        text = f.read_text()
        assert "COPY requirements ./requirements" in text, f.name
        slim = f.name.split(".")[0] in ("gateway", "recommender")
        assert ("torch==" in text) is not slim, f"{f.name}: torch only in the torch images"


def test_the_installed_environment_matches_the_lock():
    """What the tests run on is what the lock says (local build labels like +cpu aside)."""
    pins, off = _pins(), []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in pins and dist.version.split("+")[0] != pins[name]:
            off.append(f"{name} {dist.version} (lock {pins[name]})")
    assert not off, f"installed packages differ from {LOCK.name}: {off}"
