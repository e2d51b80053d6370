"""``sketchref train classifier`` is one trainer: without adapter flags, the shipped model's recipe
(``--mode projections`` and the recipe's defaults, the old trainer's flags); with one, the adapter's
own defaults. The parsed configs only (no training here)."""

from __future__ import annotations

import pytest

from training.classifier import adapt
from training.classifier.train import ADAPT_FLAGS, SHIPPED, main


@pytest.fixture
def parsed(monkeypatch):
    seen = []
    monkeypatch.setattr(adapt, "train", lambda cfg: seen.append(cfg) or {"val": {}})
    return lambda argv: (main(argv), seen[-1])[1]


def test_the_default_command_trains_the_shipped_recipe(parsed):
    cfg = parsed([])
    assert (cfg.mode, cfg.out, cfg.formats, cfg.renders, cfg.epochs, cfg.batch, cfg.lr, cfg.init_head) == \
        ("projections", "models/classifier", "raw", 3, 10, 256, 3e-4, "")
    assert {k: getattr(cfg, k) for k in SHIPPED} == SHIPPED
    # the flags of the shipped model's trainer, as before
    cfg = parsed(["--seed", "2", "--renders", "1", "--epochs", "4", "--batch", "64", "--lr", "1e-3",
                  "--weight-decay", "0", "--distill", "0.5", "--temperature", "3", "--tiny", "--out", "x",
                  "--fetched-data", "f"])
    assert (cfg.mode, cfg.seed, cfg.renders, cfg.epochs, cfg.batch, cfg.lr, cfg.weight_decay, cfg.distill,
            cfg.temperature, cfg.tiny, cfg.out, cfg.fetched_data) == \
        ("projections", 2, 1, 4, 64, 1e-3, 0.0, 0.5, 3.0, True, "x", "f")


@pytest.mark.parametrize("flag", ADAPT_FLAGS)
def test_an_adapter_flag_trains_an_adapter(parsed, flag):
    value = {"--backbone": "doodlenet", "--placement": "dense", "--loss": "ce", "--rank": "4",
             "--longtail": "10"}[flag]
    cfg = parsed([flag, value])
    defaults = adapt.AdaptConfig()
    assert (cfg.mode, cfg.out, cfg.epochs, cfg.lr) == (defaults.mode, defaults.out, defaults.epochs, defaults.lr)
    assert parsed([f"{flag}={value}"]).mode == "lora+head"
