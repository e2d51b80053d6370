"""Configuration is read through settings classes only: no ``os.environ`` / ``os.getenv`` elsewhere in
``services/`` and ``cli/``.

Every use of the process environment under ``services/`` or ``cli/`` (a read, a write, ``dict(os.environ)``,
``from os import environ``) outside a ``settings.py`` module must be listed in ``ALLOWED`` with the
reason; a new one fails this test. A setting belongs in its service's settings class (DESIGN.md §6:
``SKETCHREF_`` + name for what all services share, ``SKETCHREF_<SERVICE>_`` for a service's own), and
a value the CLI hands on goes in as a settings override, not through ``os.environ``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# (file, variable or "*" for the whole environment): why it may touch the environment
ALLOWED = {
    ("services/detector/ultralytics_env.py", "YOLO_OFFLINE"): "a third-party default, set before import",
    ("services/detector/ultralytics_env.py", "YOLO_AUTOINSTALL"): "a third-party default",
    ("services/detector/ultralytics_env.py", "YOLO_VERBOSE"): "a third-party default",
    ("services/detector/ultralytics_env.py", "YOLO_CONFIG_DIR"): "a third-party default",
    ("services/classifier/backbones.py", "HF_HUB_OFFLINE"): "a third-party default",
    ("services/classifier/text_tower.py", "HF_HUB_OFFLINE"): "a third-party default",
    ("cli/commands/worker.py", "HF_HUB_OFFLINE"): "a third-party default for the worker process",
    ("cli/commands/worker.py", "YOLO_OFFLINE"): "a third-party default for the worker process",
    ("services/common/worker_metrics.py", "PROMETHEUS_MULTIPROC_DIR"): "prometheus_client's own variable",
    ("services/common/processes.py", "*"): "builds a child process's environment",
    ("cli/commands/up.py", "*"): "builds the environment of the processes `sketchref up` starts",
    ("services/common/logs.py", "*"): "scans the environment for secret values to redact from logs",
    ("cli/commands/submit.py", "SKETCHREF_URL"): "the CLI client's default gateway URL",
    ("cli/commands/submit.py", "SKETCHREF_API_KEY"): "the CLI client's default API key",
}


def _is_environ(node: ast.AST, aliases: set[str]) -> bool:
    """``os.environ`` / ``os.getenv``, or a name imported from os as one of them."""
    if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
        return isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in aliases


def environ_uses(path: Path) -> list[tuple[int, str]]:
    """``(line, variable)`` of every use of the environment in ``path``; variable ``*`` when it is not
    one named by a string constant (the whole environment, or a computed name)."""
    tree = ast.parse(path.read_text(), str(path))
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "os" for a in node.names if a.name in ("environ", "getenv")}
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not _is_environ(node, aliases) or isinstance(parents.get(node), ast.ImportFrom):
            continue
        up = parents.get(node)
        key: ast.AST | None = None
        if isinstance(up, ast.Call) and up.func is node:  # os.getenv("X")
            key = up.args[0] if up.args else None
        elif isinstance(up, ast.Attribute) and isinstance(parents.get(up), ast.Call):  # os.environ.get("X")
            call = parents[up]
            key = call.args[0] if isinstance(call, ast.Call) and call.args else None
        elif isinstance(up, ast.Subscript) and up.value is node:  # os.environ["X"]
            key = up.slice
        name = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else "*"
        out.append((node.lineno, name))
    return out


def uses() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(p for top in ("cli", "services") for p in (ROOT / top).rglob("*.py")):
        if path.name == "settings.py":
            continue
        rel = path.relative_to(ROOT).as_posix()
        for line, name in environ_uses(path):
            found.setdefault((rel, name), []).append(line)
    return found


def test_the_walker_finds_every_form(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom os import environ as env, getenv\n"
                 "a = os.environ.get('A')\nb = os.environ['B']\nos.environ['C'] = '1'\nd = os.getenv('D')\n"
                 "e = env.get('E')\nf = getenv('F')\ng = dict(os.environ)\nh = os.environ.get(f'{a}_X')\n"
                 "os.environ.setdefault('I', '1')\n")
    assert sorted(n for _, n in environ_uses(f)) == ["*", "*", *"ABCDEFI"]


def test_no_environment_reads_outside_settings_classes():
    found = uses()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, "os.environ outside a settings class (add a setting, or list it with a reason in " \
                    "tests/project/test_environ.py): " + "; ".join(f"{p}:{lines} {n}" for (p, n), lines in
                                                                   sorted(new.items()))
