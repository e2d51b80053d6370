"""Classification losses on the two-tower similarity logits ``z`` (``(N, C)``, already scaled).

Each loss is a plain :class:`torch.nn.Module` called as ``loss(z, y)`` with integer targets ``y`` and
returns the batch mean. Class-aware losses take the training set's per-class sample counts ``n``
(``(C,)``; counts below 1 are treated as 1). :func:`build_loss` makes one by name:
``ce``, ``focal``, ``logit-adjusted``, ``balanced-softmax``, ``qmw-source``, ``qmw-source-norm``, ``qmw``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

LOSSES = ("ce", "focal", "logit-adjusted", "balanced-softmax", "qmw-source", "qmw-source-norm", "qmw")


def _counts(n: ArrayLike) -> torch.Tensor:
    return torch.as_tensor(n, dtype=torch.float32).clamp(min=1.0)


def margins(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``m_i = z[i, y_i] - max_{j != y_i} z[i, j]`` (detached)."""
    z = z.detach()
    true = z.gather(1, y[:, None]).squeeze(1)
    other = z.scatter(1, y[:, None], float("-inf")).max(1).values
    return true - other


class CrossEntropy(nn.Module):
    """``L = -1/N Σ_i log softmax(z_i)[y_i]`` (the CLIP image->text loss with fixed class texts)."""

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(z, y)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al., 2017): ``L = -1/N Σ_i α (1 - p_i)^γ log p_i``, ``p_i = softmax(z_i)[y_i]``.

    ``γ = 0, α = 1`` is cross-entropy.
    """

    def __init__(self, gamma: float = 2.0, alpha: float = 1.0):
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(z, -1).gather(1, y[:, None]).squeeze(1)
        return (-self.alpha * (1 - logp.exp()).pow(self.gamma) * logp).mean()


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted softmax CE (Menon et al., 2021): ``L = CE(z + τ log π, y)``, ``π_c = n_c / Σ n``.

    ``τ = 1`` is the balanced softmax of Ren et al. (2020). Only the training loss is adjusted; at
    inference the plain ``z`` is used, which is what makes the classifier balanced.
    """

    log_prior: torch.Tensor

    def __init__(self, counts: ArrayLike, tau: float = 1.0) -> None:
        super().__init__()
        n = _counts(counts)
        self.register_buffer("log_prior", torch.log(n / n.sum()))
        self.tau = tau

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(z + self.tau * self.log_prior, y)


class QMWSource(nn.Module):
    """Quantile-Margin Weighted loss exactly as the source writes it (DESIGN.md §4).

    ``m_i = z[i,y_i] - max_{j≠y_i} z[i,j]``; ``r = Quantile_α({m_i})`` over the batch (no gradient);
    ``ω_i = 1 / log(n_{y_i} + 1)`` if ``m_i < r`` else ``log(n_{y_i} + 1)``;
    ``L = 1/N Σ_i ω_i · CE_i``. No normalisation. Note what this does: samples at or above the
    quantile (the easy ones) of frequent classes get the largest weights — the opposite of the prose.
    With ``α = 0``, ``r = min m`` so no sample is below it: CE weighted by ``log(n_y + 1)``.
    """

    logn: torch.Tensor

    def __init__(self, counts: ArrayLike, alpha: float = 0.25) -> None:
        super().__init__()
        self.register_buffer("logn", torch.log(_counts(counts) + 1))
        self.alpha = alpha

    def weights(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        m = margins(z, y)
        r = torch.quantile(m, self.alpha)
        logn = self.logn[y]
        return torch.where(m < r, 1.0 / logn, logn)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.weights(z, y) * F.cross_entropy(z, y, reduction="none")).mean()


class QMWSourceNormalised(QMWSource):
    """:class:`QMWSource`'s weights divided by their batch mean (no gradient): ``ω_i / (1/N Σ_j ω_j)``.

    The control that separates the source formula's *which samples* from its *loss scale*: the raw
    weights average ~``log(n + 1)`` (~2.5 here), which also re-weights CE against the distillation
    term; normalised, only the relative weighting is left.
    """

    def weights(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = super().weights(z, y)
        return w / w.mean()


class QMW(nn.Module):
    """Quantile-Margin Weighted loss as the source's prose intends: hard and rare samples weigh more.

    ``m_i`` and ``r = Quantile_α({m_i})`` as in :class:`QMWSource` (no gradient);
    ``h_i = 1 + β`` if ``m_i < r`` (hard: small or negative margin) else ``1``;
    ``c_y = 1 / log(n_y + 1)`` (rarer class -> larger);
    ``ω_i = h_i c_{y_i} / (1/N Σ_j h_j c_{y_j})`` (mean-normalised to 1 over the batch, no gradient);
    ``L = 1/N Σ_i ω_i · CE_i``. With ``α = 0`` no sample is hard and this is CE weighted by
    ``c_y`` normalised; with equal counts and ``α = 0`` it is plain CE.
    """

    inv_logn: torch.Tensor

    def __init__(self, counts: ArrayLike, alpha: float = 0.25, beta: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("inv_logn", 1.0 / torch.log(_counts(counts) + 1))
        self.alpha, self.beta = alpha, beta

    def weights(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        m = margins(z, y)
        r = torch.quantile(m, self.alpha)
        w = torch.where(m < r, 1.0 + self.beta, 1.0) * self.inv_logn[y]
        return w / w.mean()

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.weights(z, y) * F.cross_entropy(z, y, reduction="none")).mean()


def build_loss(name: str, counts: ArrayLike | None = None, **kw: float) -> nn.Module:
    """A loss by name; ``counts`` (per-class training samples) for the class-aware ones."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    if name == "ce":
        return CrossEntropy()
    if name == "focal":
        return FocalLoss(**kw)
    if counts is None:
        raise ValueError(f"loss {name!r} needs the per-class training counts")
    if name in ("logit-adjusted", "balanced-softmax"):
        return LogitAdjustedLoss(counts, tau=kw.get("tau", 1.0))
    if name == "qmw-source":
        return QMWSource(counts, **kw)
    if name == "qmw-source-norm":
        return QMWSourceNormalised(counts, **kw)
    if name == "qmw":
        return QMW(counts, **kw)
    raise AssertionError(name)  # every name in LOSSES is handled above
