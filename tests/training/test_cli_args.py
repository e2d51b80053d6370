"""The one dataclass -> argparse helper, as every trainer uses it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from training.cli_args import add_dataclass_arguments


@dataclass
class Config:
    out_dir: str = "runs/x"
    epochs: int = 3
    hours: float | None = None
    alpha: float | None = 0.25
    loss: str = "bce"
    tiny: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)


def _none_or_float(v: str) -> float | None:
    return None if v == "none" else float(v)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_dataclass_arguments(p, Config, types={"alpha": _none_or_float}, choices={"loss": ["bce", "focal"]})
    return p


def test_defaults_round_trip_into_the_dataclass():
    args = vars(parser().parse_args([]))
    assert "extra" not in args
    assert Config(**args) == Config()


def test_types_flags_and_choices():
    a = parser().parse_args(["--out-dir", "o", "--epochs", "5", "--hours", "0.5", "--alpha", "none",
                             "--loss", "focal", "--tiny", "--no-progress"])
    assert (a.out_dir, a.epochs, a.hours, a.alpha, a.loss, a.tiny, a.progress) == ("o", 5, 0.5, None, "focal",
                                                                                  True, False)
    with pytest.raises(SystemExit):
        parser().parse_args(["--loss", "mse"])
    with pytest.raises(SystemExit):
        parser().parse_args(["--epochs", "many"])
