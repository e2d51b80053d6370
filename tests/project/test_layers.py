"""The layers, enforced by walking every import (``ast``, so imports inside functions count too).

    cli (cli/: cli/main.py, cli/commands/)        may import anything: it dispatches to training too
    composition (services/embedded.py)            -> core, infrastructure, stages: loads the shipped
                                                     stages for an in-process Recognizer
    gateway (services/gateway/)                   -> core, infrastructure
    stages (services/detector|classifier|recommender/) -> core, infrastructure, (stages)
    infrastructure (services/common/: queue, job_store, storage, worker, ...) -> core
    core (services/core/: contracts, imaging, preprocess, rendering, pipeline, annotate, stages, ...)
                                                  -> core only
    training/                                     -> anything but the gateway and the cli

Nothing under ``services/`` imports ``training`` (only ``cli/`` and ``training/`` do). The imports that
break these rules today are listed in ``ALLOWED`` with the reason; the test fails when a new one appears, so the list
can only shrink (delete an entry when its import goes; it is not an error to leave it, so that
parallel work removing one does not break the build).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

CORE = "services.core"  # the package: contracts, imaging, preprocess, rendering, pipeline, annotate, stages, ...
INFRA = "services.common"  # the package: queue, job_store, idempotency, sweeper, storage, worker, settings, ...
STAGES = ("services.detector", "services.classifier", "services.recommender")

# layer -> the layers it may import
MAY_IMPORT = {
    "core": {"core"},
    "infrastructure": {"core", "infrastructure"},
    "stages": {"core", "infrastructure", "stages"},
    "gateway": {"core", "infrastructure", "gateway"},
    "composition": {"core", "infrastructure", "stages"},
    "cli": {"core", "infrastructure", "stages", "gateway", "cli", "training", "composition"},
    "training": {"core", "infrastructure", "stages", "training", "composition"},
}

# (importer, imported): why it is still there. Only ever remove entries.
ALLOWED: dict[tuple[str, str], str] = {}


def layer_of(module: str) -> str | None:
    if module == "cli" or module.startswith("cli."):
        return "cli"
    if module == "services.embedded":
        return "composition"
    if module.startswith("services.gateway"):
        return "gateway"
    if module.startswith(STAGES):
        return "stages"
    if module == CORE or module.startswith(CORE + "."):
        return "core"
    if module == INFRA or module.startswith(INFRA + "."):
        return "infrastructure"
    if module.startswith("training"):
        return "training"
    return None  # third-party, stdlib, packages themselves


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(base: str, name: str) -> str:
    """``base.name`` when that is a module file (``from pkg import module``), else ``base``."""
    candidate = f"{base}.{name}"
    rel = Path(*candidate.split("."))
    return candidate if (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file() else base


def imports_of(path: Path) -> set[str]:
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.update(_resolve(base, a.name) for a in node.names)
    return found


def edges() -> set[tuple[str, str]]:
    out = set()
    for top in ("cli", "services", "training"):
        for path in sorted((ROOT / top).rglob("*.py")):
            me = module_name(path)
            out.update((me, target) for target in imports_of(path) if layer_of(target))
    return out


def violations() -> set[tuple[str, str]]:
    bad = set()
    for src, dst in edges():
        a, b = layer_of(src), layer_of(dst)
        if a and b and b not in MAY_IMPORT[a]:
            bad.add((src, dst))
    return bad


def test_the_walker_sees_every_kind_of_import():
    found = edges()
    assert ("services.core.pipeline", "services.core.contracts") in found  # relative
    assert ("services.embedded", "services.detector.model") in found  # inside a function
    assert ("services.detector.worker", "services.core.pipeline") in found  # from package import module
    assert ("training.data.quickdraw", "services.classifier.labels") in found
    assert ("cli.commands.up", "services.common.processes") in found  # the top-level cli package is walked
    assert layer_of("services.common.job_store") == "infrastructure" and layer_of("numpy") is None


def test_no_service_imports_training():
    bad = sorted((a, b) for a, b in edges() if layer_of(b) == "training" and layer_of(a) != "training"
                 and layer_of(a) != "cli")
    assert not bad, f"services must not import training: {bad}"


def test_layers_hold_except_the_listed_imports():
    new = sorted(violations() - set(ALLOWED))
    assert not new, "imports against the layers (tests/project/test_layers.py): " + "; ".join(
        f"{a} -> {b} ({layer_of(a)} may import {sorted(MAY_IMPORT[layer_of(a)])})" for a, b in new)
