"""``sketchref env`` writes random keys that docker-compose needs; compose refuses to run without them."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from cli.commands.env import KEYS, read_env, write_env

ROOT = Path(__file__).resolve().parents[2]
CLEAN = {k: v for k, v in os.environ.items() if k not in KEYS}


def _compose_config(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["docker-compose", "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"),
                           "config"], capture_output=True, text=True, env=CLEAN, cwd=ROOT)


def test_env_file_is_private_random_and_kept(tmp_path):
    a, b = tmp_path / "a.env", tmp_path / "b.env"
    assert write_env(a) == list(KEYS)
    write_env(b)
    assert stat.S_IMODE(a.stat().st_mode) == 0o600
    va, vb = read_env(a), read_env(b)
    assert set(va) == set(KEYS) and all(len(v) >= 16 for v in va.values())
    assert all(va[k] != vb[k] for k in KEYS)  # random, not a default
    a.write_text(a.read_text() + "SKETCHREF_GATEWAY_API_KEYS=mine\n")
    assert write_env(a) == [] and read_env(a) == {**va, "SKETCHREF_GATEWAY_API_KEYS": "mine"}  # kept
    assert write_env(a, force=True) == list(KEYS) and read_env(a)["SKETCHREF_REDIS_PASSWORD"] != va["SKETCHREF_REDIS_PASSWORD"]


def test_compose_needs_the_keys_and_uses_them(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    r = _compose_config(empty)
    assert r.returncode != 0 and "is not set - run make env" in r.stderr + r.stdout
    env = tmp_path / ".env"
    write_env(env)
    r = _compose_config(env)
    assert r.returncode == 0, r.stderr
    keys = read_env(env)
    assert f"redis://:{keys['SKETCHREF_REDIS_PASSWORD']}@redis:6379/0" in r.stdout
    assert "sketchref-dev" not in r.stdout  # no default credentials left anywhere
