"""LoRA configs with each layer's rank capped at its maximum useful rank, sized to a parameter budget.

A LoRA update ``B A`` of a layer with fan-in ``k`` (``in`` for a linear layer, ``in/groups · kh · kw``
for a conv) and ``out`` outputs has rank at most ``min(k, out)``: a larger rank adds parameters that
cannot change what the layer can express (DoodleNet's first conv, ``1 -> 16`` with 3×3 kernels, is
capped at 9). :func:`capped_lora_config` picks the common rank ``r`` whose capped count
``Σ_l min(r, max_l) · cost_l`` is closest to the budget and writes the capped layers into peft's
``rank_pattern``/``alpha_pattern`` (alpha stays ``alpha_ratio · rank`` per layer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from services.classifier import lora


def max_useful_rank(m: nn.Module) -> int:
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return min(m.in_channels // m.groups * kh * kw, m.out_channels)
    if isinstance(m, nn.Linear):
        return min(m.in_features, m.out_features)
    raise TypeError(f"LoRA targets linear and conv layers, not {type(m).__name__}")


def layer_cost(m: nn.Module) -> int:
    """LoRA parameters per unit of rank on this layer."""
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return m.in_channels // m.groups * kh * kw + m.out_channels
    return m.in_features + m.out_features


@dataclass
class RankPlan:
    rank: int  # the common rank
    caps: dict[str, int]  # layer name -> capped rank, for layers whose max is below ``rank``
    params: int  # LoRA parameters the plan trains
    budget: int

    def describe(self) -> str:
        capped = ", ".join(f"{k}≤{v}" for k, v in self.caps.items())
        return f"rank {self.rank}" + (f" (capped: {capped})" if capped else "") + f": {self.params:,} / budget {self.budget:,}"


def plan_ranks(root: nn.Module, pattern: str, budget: int) -> RankPlan:
    layers = lora.targets(root, pattern)
    if not layers:
        raise ValueError(f"pattern {pattern!r} selects no layer")
    maxima = {n: max_useful_rank(m) for n, m in layers}
    costs = {n: layer_cost(m) for n, m in layers}

    def params(r: int) -> int:
        return sum(min(r, maxima[n]) * costs[n] for n in maxima)

    top = max(maxima.values())
    best = min(range(1, top + 1), key=lambda r: (abs(params(r) - budget), r))
    caps = {n: mx for n, mx in maxima.items() if mx < best}
    return RankPlan(best, caps, params(best), budget)


def capped_lora_config(root: nn.Module, backbone: str, placement: str, budget: int = 0,
                       alpha_ratio: float = 2.0):
    """``(LoraConfig, RankPlan)`` for ``placement`` at ``budget`` parameters (0: the backbone's reference)."""
    from peft import LoraConfig

    pattern = lora.placement_pattern(backbone, placement)
    plan = plan_ranks(root, pattern, budget or lora.budget(root, backbone))
    keys = {re.escape(n): r for n, r in plan.caps.items()}
    config = LoraConfig(r=plan.rank, lora_alpha=alpha_ratio * plan.rank, target_modules=pattern, bias="none",
                        lora_dropout=0.0, rank_pattern=dict(keys),
                        alpha_pattern={k: alpha_ratio * r for k, r in keys.items()})
    return config, plan
