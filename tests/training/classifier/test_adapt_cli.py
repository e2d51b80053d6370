"""``sketchref train classifier --placement ...`` trains a tiny adapter, resumes, and keeps the default path."""

import json
import subprocess
import sys

import pytest

from training.classifier.train import ADAPT_FLAGS


@pytest.mark.slow
def test_train_classifier_adapter_tiny_and_resume(tmp_path):
    out = tmp_path / "adapter"
    cmd = [sys.executable, "-m", "cli", "train", "classifier", "--placement", "dense", "--loss",
           "logit-adjusted", "--seed", "1", "--tiny", "--threads", "1", "--no-progress", "--init-head", "",
           "--formats", "raw", "--out", str(out)]
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "trainable adapter parameters" in first.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["placement"] == "dense" and cfg["train"]["loss"] == "logit-adjusted" and cfg["train"]["seed"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"val", "test", "params", "history"} <= set(metrics)
    assert (out / "checkpoint.pt").exists() and (out / "adapter_model.safetensors").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and "resumed" in again.stdout


def test_default_train_command_is_unchanged():
    assert "--placement" in ADAPT_FLAGS and "--seed" not in ADAPT_FLAGS
