"""The lint rules hold where they should: ruff's T20 flags a print in the services but not in the CLI,
and mypy's strict list names files that exist (a moved file must move in pyproject.toml too)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(path: str, code: str) -> str:
    out = subprocess.run([str(RUFF), "check", "--stdin-filename", path, "-"], input=code, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def test_print_is_banned_outside_the_command_line():
    code = '"""x."""\n\nprint("hi")\n'
    assert "T201" in _ruff("services/common/new_module.py", code)
    assert "T201" in _ruff("training/data/new_module.py", code)
    assert "T201" not in _ruff("cli/commands/new_command.py", code)
    assert "T201" not in _ruff("scripts/new_script.py", code)


def test_mypy_checks_files_that_exist_and_is_strict():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert cfg["strict"] is True
    missing = [f for f in cfg["files"] if not (ROOT / f).is_file()]
    assert not missing and len(cfg["files"]) >= 6, missing
