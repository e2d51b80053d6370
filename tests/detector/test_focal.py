"""Focal loss against hand-computed values, and its plumbing into ultralytics by subclassing."""

import math

import pytest
import torch
from torch import nn

from training.detector.focal import FocalDetectionLoss, FocalDetectionModel, FocalDetectionTrainer, FocalLoss


def _sig(x):
    return 1 / (1 + math.exp(-x))


def test_gamma0_alpha_none_is_bce():
    x = torch.tensor([[-3.0, -0.5, 0.0, 0.7, 4.0]])
    t = torch.tensor([[0.0, 1.0, 0.3, 0.0, 1.0]])
    ref = nn.BCEWithLogitsLoss(reduction="none")(x, t)
    assert torch.allclose(FocalLoss(gamma=0.0, alpha=None)(x, t), ref, atol=1e-7)


def test_hand_computed_values():
    # x = 2, t = 1: p = sigmoid(2); FL = -0.25 * (1 - p)^2 * log p
    p = _sig(2.0)
    want_pos = -0.25 * (1 - p) ** 2 * math.log(p)
    # x = 1, t = 0: p_t = 1 - p; a_t = 0.75; FL = -0.75 * p^2 * log(1 - p)
    q = _sig(1.0)
    want_neg = -0.75 * q ** 2 * math.log(1 - q)
    # soft target t = 0.4, x = -1, gamma 1.5, alpha .25
    r, t = _sig(-1.0), 0.4
    pt = t * r + (1 - t) * (1 - r)
    at = t * 0.25 + (1 - t) * 0.75
    want_soft = -at * (1 - pt) ** 1.5 * (t * math.log(r) + (1 - t) * math.log(1 - r))
    fl2 = FocalLoss(gamma=2.0, alpha=0.25)
    got = fl2(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert got.tolist() == pytest.approx([want_pos, want_neg], rel=1e-5)
    got_soft = FocalLoss(gamma=1.5, alpha=0.25)(torch.tensor([-1.0]), torch.tensor([t]))
    assert got_soft.item() == pytest.approx(want_soft, rel=1e-5)


def test_focal_down_weights_easy_examples_and_has_gradients():
    x = torch.tensor([5.0, 0.1], requires_grad=True)  # easy and hard positives
    loss = FocalLoss(gamma=2.0, alpha=None)(x, torch.ones(2))
    bce = nn.BCEWithLogitsLoss(reduction="none")(x.detach(), torch.ones(2))
    ratio = (loss.detach() / bce)
    assert ratio[0] < 1e-4 < ratio[1]
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_bad_settings_refused():
    with pytest.raises(ValueError):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError):
        FocalLoss(alpha=1.5)


def test_model_criterion_and_trainer_wiring():
    from services.detector.ultralytics_env import configure_ultralytics

    configure_ultralytics()
    model = FocalDetectionModel("yolov8n.yaml", nc=3, verbose=False, focal_gamma=2.0, focal_alpha=None)
    from ultralytics.cfg import get_cfg

    model.args = get_cfg()
    crit = model.init_criterion()
    assert isinstance(crit, FocalDetectionLoss)
    assert crit.bce.gamma == 2.0 and crit.bce.alpha is None
    # the loss runs on a real forward pass with targets
    model.train()
    imgs = torch.rand(2, 3, 64, 64)
    batch = {"img": imgs, "batch_idx": torch.tensor([0.0, 1.0]), "cls": torch.tensor([[1.0], [2.0]]),
             "bboxes": torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2]])}
    total, items = model.loss(batch)
    assert torch.isfinite(total).all() and total.sum() > 0
    cls = FocalDetectionTrainer.configured(0.5, 0.5)
    assert issubclass(cls, FocalDetectionTrainer) and cls.focal_gamma == 0.5 and cls.focal_alpha == 0.5
    assert FocalDetectionTrainer.focal_gamma == 1.5
