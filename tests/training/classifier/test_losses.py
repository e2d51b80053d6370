"""Losses against hand-computed tensors."""

import math

import pytest
import torch
import torch.nn.functional as F

from training.classifier.losses import (
    QMW,
    CrossEntropy,
    FocalLoss,
    LogitAdjustedLoss,
    QMWSource,
    build_loss,
    margins,
)

Z = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.5]])
Y = torch.tensor([0, 1, 1, 2])
N = torch.tensor([100.0, 10.0, 1.0])


def ce_i(z, y):
    return -math.log(math.exp(z[y]) / sum(math.exp(v) for v in z))


CE = [ce_i(Z[i].tolist(), int(Y[i])) for i in range(4)]


def test_ce_by_hand():
    assert CrossEntropy()(Z, Y).item() == pytest.approx(sum(CE) / 4, rel=1e-6)


def test_margins_by_hand():
    assert margins(Z, Y).tolist() == pytest.approx([2.0, -2.0, 0.0, 0.5])


def test_focal_gamma0_is_ce_and_by_hand():
    assert FocalLoss(gamma=0.0)(Z, Y).item() == pytest.approx(sum(CE) / 4, rel=1e-6)
    p = [math.exp(-c) for c in CE]
    want = sum((1 - pi) ** 2 * ci for pi, ci in zip(p, CE, strict=True)) / 4
    assert FocalLoss(gamma=2.0)(Z, Y).item() == pytest.approx(want, rel=1e-6)


def test_logit_adjusted_by_hand():
    prior = (N / N.sum()).log()
    want = sum(ce_i((Z[i] + prior).tolist(), int(Y[i])) for i in range(4)) / 4
    assert LogitAdjustedLoss(N)(Z, Y).item() == pytest.approx(want, rel=1e-6)
    assert LogitAdjustedLoss(torch.ones(3) * 5)(Z, Y).item() == pytest.approx(sum(CE) / 4, rel=1e-6)
    assert build_loss("balanced-softmax", N)(Z, Y).item() == pytest.approx(want, rel=1e-6)


def test_qmw_source_exactly_as_written():
    # margins [2, -2, 0, 0.5]; alpha=0.5 -> r = median = 0.25: samples 1, 2 are below
    logn = [math.log(101), math.log(11), math.log(11), math.log(2)]
    w = [logn[0], 1 / logn[1], 1 / logn[2], logn[3]]
    want = sum(wi * ci for wi, ci in zip(w, CE, strict=True)) / 4
    assert QMWSource(N, alpha=0.5)(Z, Y).item() == pytest.approx(want, rel=1e-6)


def test_qmw_alpha0_is_weighted_ce():
    w_src = torch.log(N[Y] + 1)
    assert QMWSource(N, alpha=0.0)(Z, Y).item() == pytest.approx(
        (w_src * F.cross_entropy(Z, Y, reduction="none")).mean().item(), rel=1e-6)
    c = 1 / torch.log(N[Y] + 1)
    want = (c / c.mean() * F.cross_entropy(Z, Y, reduction="none")).mean()
    assert QMW(N, alpha=0.0)(Z, Y).item() == pytest.approx(want.item(), rel=1e-6)
    assert QMW(torch.full((3,), 7.0), alpha=0.0)(Z, Y).item() == pytest.approx(sum(CE) / 4, rel=1e-6)


def test_qmw_prose_hard_and_rare_weigh_more():
    q = QMW(N, alpha=0.5, beta=1.0)
    w = q.weights(Z, Y)
    c = [1 / math.log(101), 1 / math.log(11), 1 / math.log(11), 1 / math.log(2)]
    raw = [c[0], 2 * c[1], 2 * c[2], c[3]]
    assert w.tolist() == pytest.approx([r / (sum(raw) / 4) for r in raw], rel=1e-6)
    assert w.mean().item() == pytest.approx(1.0)
    # same class (1), hard vs easy: hard weighs more; source does the opposite for frequent classes
    z2 = torch.tensor([[0.0, 3.0, 0.0], [0.0, -1.0, 0.0]])
    y2 = torch.tensor([1, 1])
    assert q.weights(z2, y2)[1] > q.weights(z2, y2)[0]
    assert QMWSource(N, alpha=0.5).weights(z2, y2)[1] < QMWSource(N, alpha=0.5).weights(z2, y2)[0]


@pytest.mark.parametrize("make", [lambda: QMW(N, alpha=0.5), lambda: QMWSource(N, alpha=0.5)],
                         ids=["qmw", "qmw-source"])
def test_gradients_flow_only_through_ce(make):
    """``dL/dz`` is the gradient of ``1/N Σ ω_i CE_i`` with the weights held constant: none through ω."""
    loss = make()
    z = Z.clone().requires_grad_(True)
    loss(z, Y).backward()
    w = loss.weights(z, Y)
    assert not w.requires_grad, "the weights must carry no graph back to z"
    # by hand: dCE_i/dz_i = softmax(z_i) - onehot(y_i), each row scaled by its weight and 1/N
    ce_grad = (Z.softmax(-1) - F.one_hot(Y, 3)) / len(Y)
    assert torch.allclose(z.grad, w[:, None] * ce_grad, atol=1e-6)
    assert not torch.allclose(z.grad, ce_grad, atol=1e-3), "the weights must change the gradient"


def test_unknown_loss():
    with pytest.raises(ValueError):
        build_loss("nope")


def test_qmw_source_norm_is_the_source_weights_over_their_mean():
    import torch

    from training.classifier.losses import QMWSource, build_loss

    torch.manual_seed(0)
    z, y = torch.randn(64, 5), torch.randint(0, 5, (64,))
    counts = [100, 50, 10, 3, 1]
    raw = QMWSource(counts).weights(z, y)
    norm = build_loss("qmw-source-norm", counts).weights(z, y)
    assert torch.allclose(norm, raw / raw.mean()) and abs(norm.mean().item() - 1) < 1e-5
    assert raw.mean().item() > 1.5  # the source's weights carry a loss scale the normalised form removes
