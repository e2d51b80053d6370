"""LoRA placements on DoodleNet: equal budgets, frozen base, adapter saved alone and reloaded exactly."""

import torch

from services.classifier import lora
from services.classifier.doodlenet import DoodleNet


def test_equal_budget_ranks_and_counts():
    budget = lora.budget(DoodleNet(), "doodlenet")
    assert budget == 8 * (576 + 512)
    for placement in ("conv-early", "conv-late", "conv-all", "dense"):
        m = DoodleNet()
        cfg = lora.lora_config(m, "doodlenet", placement)
        lora.inject(m, cfg)
        n = lora.count(m)
        assert abs(n - budget) / budget < 0.05
        assert sum(p.numel() for p in m.parameters() if p.requires_grad) == n
    # conv LoRA: r * (in * k * k + out) per layer
    assert lora.cost_per_rank(DoodleNet(), lora.placement_pattern("doodlenet", "conv-late")) == (
        32 * 9 + 64) + (64 * 9 + 64)


def test_adapter_roundtrip(tmp_path):
    torch.manual_seed(0)
    m = DoodleNet().eval()
    cfg = lora.lora_config(m, "doodlenet", "conv-all", rank=4)
    lora.inject(m, cfg)
    for p in lora.lora_parameters(m):
        torch.nn.init.normal_(p, std=0.05)
    lora.save_adapter(m, cfg, tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    base = DoodleNet().eval()
    base.load_state_dict({k.replace(".base_layer", ""): v for k, v in m.state_dict().items() if "lora_" not in k})
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        before = base(x)
        lora.load_adapter(base, tmp_path)
        assert torch.allclose(base(x), m(x), atol=1e-6)
        assert not torch.allclose(before, m(x), atol=1e-4)


def test_frozen_prefix_split_matches_the_model():
    from services.classifier.backbones import DoodleNetBackbone
    from services.classifier.vlm import SketchVLM

    torch.manual_seed(0)
    for placement in ("dense", "conv-late", "conv-early"):
        model = SketchVLM(DoodleNet(), torch.randn(345, 384)).eval()
        lora.inject(model.image_tower, lora.lora_config(model.image_tower, "doodlenet", placement))
        for p in lora.lora_parameters(model.image_tower):
            torch.nn.init.normal_(p, std=0.05)
        prefix, suffix = DoodleNetBackbone().split(model, placement)
        x = torch.rand(4, 1, 28, 28)
        with torch.no_grad():
            h = prefix(x) if prefix else x
            assert torch.allclose(suffix(h), model(x), atol=1e-5)
