"""LoRA adapters (peft) at named placements, sized to equal trainable-parameter budgets.

Placements name sets of layers by peft ``target_modules`` (a regex, full match on module names
relative to the adapted tower — :meth:`Backbone.lora_root`). Each backbone declares its own
(``placements``) and the reference placement and rank that set its budget (``reference``); see
:mod:`services.classifier.backbones` (CLIP: ``attn-qkvo``, ``attn-vo``, ``mlp``; DoodleNet:
``conv-early``, ``conv-late``, ``conv-all``, ``dense``, ``all``).

LoRA on a linear ``in->out`` layer adds ``r (in + out)`` parameters, on a ``k×k`` conv
``r (in k² + out)``; :func:`rank_for_budget` picks each placement's rank so its count is closest to a
common budget. Adapters are saved alone (``adapter_config.json`` + ``adapter_model.safetensors``, peft's
own files) and injected into a freshly loaded base at serving (:func:`load_adapter`).
"""

from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from .registry import backbone_class


def placement_pattern(backbone: str, placement: str) -> str:
    table = backbone_class(backbone).placements
    if placement not in table:
        raise ValueError(f"unknown placement {placement!r} for {backbone}; choose from {', '.join(table)}")
    return table[placement]


def targets(root: nn.Module, pattern: str) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in root.named_modules()
            if n and re.fullmatch(pattern, n) and isinstance(m, (nn.Linear, nn.Conv2d))]


def cost_per_rank(root: nn.Module, pattern: str) -> int:
    """LoRA parameters per unit of rank over the layers the pattern selects."""
    total = 0
    for _, m in targets(root, pattern):
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += m.in_channels // m.groups * kh * kw + m.out_channels
        else:
            total += m.in_features + m.out_features
    if not total:
        raise ValueError(f"pattern {pattern!r} selects no layer")
    return total


def budget(root: nn.Module, backbone: str, rank: int | None = None) -> int:
    """The common budget: the reference placement's count at the reference rank."""
    ref, ref_rank = backbone_class(backbone).reference
    return cost_per_rank(root, placement_pattern(backbone, ref)) * (rank or ref_rank)


def rank_for_budget(root: nn.Module, pattern: str, target: int) -> int:
    return max(1, round(target / cost_per_rank(root, pattern)))


def lora_config(root: nn.Module, backbone: str, placement: str, rank: int = 0, alpha_ratio: float = 2.0,
                dropout: float = 0.0, target_budget: int = 0):
    """A peft ``LoraConfig``; ``rank=0`` means: the rank that meets the equal budget."""
    from peft import LoraConfig

    pattern = placement_pattern(backbone, placement)
    r = rank or rank_for_budget(root, pattern, target_budget or budget(root, backbone))
    return LoraConfig(r=r, lora_alpha=alpha_ratio * r, lora_dropout=dropout, target_modules=pattern,
                      bias="none")


def inject(root: nn.Module, config) -> nn.Module:
    """Add LoRA layers to ``root`` in place (base weights frozen); returns ``root``."""
    from peft import inject_adapter_in_model

    for p in root.parameters():
        p.requires_grad_(False)
    inject_adapter_in_model(config, root)
    return root


def lora_parameters(root: nn.Module) -> list[nn.Parameter]:
    return [p for n, p in root.named_parameters() if "lora_" in n]


def count(root: nn.Module) -> int:
    return sum(p.numel() for p in lora_parameters(root))


def save_adapter(root: nn.Module, config, out: str | Path) -> None:
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(out))
    state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(root).items()}
    save_file(state, str(out / "adapter_model.safetensors"))


def load_adapter(root: nn.Module, adapter_dir: str | Path) -> nn.Module:
    """Inject the adapter saved in ``adapter_dir`` into ``root`` and load its weights."""
    from peft import LoraConfig, set_peft_model_state_dict
    from safetensors.torch import load_file

    config = LoraConfig.from_pretrained(str(adapter_dir))
    inject(root, config)
    result = set_peft_model_state_dict(root, load_file(str(Path(adapter_dir) / "adapter_model.safetensors")))
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if missing:
        raise ValueError(f"adapter weights do not fit the model: {missing[:3]}")
    return root
