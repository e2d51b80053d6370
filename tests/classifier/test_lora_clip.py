"""LoRA on a tiny random CLIP: equal budgets, train a few steps, save, reload in the worker, classify."""

import json
import os

import pytest
import torch
from tiny_clip import make_tiny_clip

from services.classifier import lora
from services.classifier.backbones import get_backbone

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_placements_have_equal_budgets(clip_dir):
    backbone = get_backbone("clip", str(clip_dir))
    model, _ = backbone.build(["cat", "dog"])
    budget = lora.budget(backbone.lora_root(model), "clip")
    counts = {}
    for placement in ("attn-qkvo", "attn-vo", "mlp"):
        fresh, _ = get_backbone("clip", str(clip_dir)).build(["cat", "dog"])
        root = backbone.lora_root(fresh)
        cfg = lora.lora_config(root, "clip", placement)
        lora.inject(root, cfg)
        counts[placement] = (cfg.r, lora.count(root))
        assert all(p.requires_grad == ("lora_" in n) for n, p in root.named_parameters())
    assert counts["attn-vo"][0] == 2 * counts["attn-qkvo"][0]
    for _, n in counts.values():
        assert abs(n - budget) / budget < 0.15
    assert counts["attn-qkvo"] == (8, budget)  # the reference placement at the reference rank is the budget


def test_train_save_reload_in_worker_and_classify(clip_dir, tmp_path, monkeypatch):
    from PIL import Image

    from services.classifier import worker
    from services.classifier.settings import get_classifier_settings
    from services.core.contracts import DetectedObject
    from services.core.pipeline import classify
    from training.classifier.adapt import AdaptConfig, build, train
    from training.classifier.renders import reference_image
    from training.data.quickdraw import load_drawings

    models = tmp_path / "models" / "classifier"
    out = models / "lora-tiny"
    cfg = AdaptConfig(out=str(out), backbone="clip", model=str(clip_dir), placement="attn-vo", loss="qmw",
                      tiny=True, formats="raw", threads=1, progress=False, lr=5e-2, batch=8)
    metrics = train(cfg)
    assert metrics["params"]["lora"] > 0 and 0.0 <= metrics["test"]["top1"] <= 1.0
    saved = json.loads((out / "config.json").read_text())
    assert saved["backbone"] == "clip" and saved["placement"] == "attn-vo" and saved["train"]["loss"] == "qmw"
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    assert not list(out.glob("model*.safetensors")), "the adapter is saved alone, not the base"
    (models / "config.json").write_text(json.dumps({"adapter": "lora-tiny"}))

    monkeypatch.setenv("SKETCHREF_CLASSIFIER_MODEL_DIR", str(models))
    monkeypatch.delenv("SKETCHREF_CLASSIFIER_MODEL_URI", raising=False)
    get_classifier_settings.cache_clear()
    worker.ctx.reset()
    try:
        clf = worker.ctx.model()
        d = load_drawings("raw", split="test", words=["cat"], per_class=1)[0]
        img = reference_image(d)
        canvas = Image.new("L", (700, 600), 255)
        canvas.paste(img.convert("L"), (150, 60))
        box = [150.0, 60.0, 662.0, 572.0]
        objs = classify(canvas, [DetectedObject(box=box, score=0.9, detector_label="object")], clf, top_k=3)
        labels = objs[0].labels
        assert len(labels) == 3 and labels[0].score >= labels[1].score >= labels[2].score
        assert all(lab.label in clf.classes for lab in labels) and len(clf.classes) == 345

        # the reloaded adapter reproduces the trained model, and differs from the bare base
        x = clf.tensors(canvas, [box])
        backbone, base, _ = build(cfg)
        with torch.no_grad():
            loaded = clf.model(x)
            bare = base(x)
        assert not torch.allclose(loaded, bare, atol=1e-6)
        root = backbone.lora_root(base)
        lora.load_adapter(root, out)
        base.load_state_dict(torch.load(out / "head.pt", weights_only=True), strict=False)
        with torch.no_grad():
            assert torch.allclose(base.eval()(x), loaded, atol=1e-5)
    finally:
        worker.ctx.reset()
        get_classifier_settings.cache_clear()
