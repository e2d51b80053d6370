"""DoodleNet (ml5.js, MIT) rebuilt in PyTorch from its TensorFlow.js layers files.

The TF.js format is a ``model.json`` (Keras topology + a weights manifest) and binary shards of
little-endian float32 tensors in manifest order. Keras stores conv kernels as ``[kh, kw, in, out]`` and
dense kernels as ``[in, out]``, and flattens channels-last, so the loader transposes kernels and the
model flattens in ``(H, W, C)`` order, exactly as Keras did.

Input: ``(N, 1, 28, 28)`` in [0, 1], white strokes on black. Output: 345 logits (the softmax of the
original is left to the loss) in the order of ``class_names.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .labels import read_class_names

FILES = ["model.json", "group1-shard1of1.bin", "class_names.txt"]


class DoodleNet(nn.Module):
    def __init__(self, num_classes: int = 345):
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.convs = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64))
        self.dropout = nn.Dropout(0.1)
        self.dense = nn.Linear(576, 512)
        self.head = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d penultimate activations (tanh), the image tower's embedding."""
        h = self.convs(x)
        h = self.dropout(h.permute(0, 2, 3, 1).flatten(1))  # Keras flattens channels-last
        return torch.tanh(self.dense(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _keras_layers(topology: dict) -> list[dict]:
    cfg = topology.get("model_config", topology)["config"]
    return cfg["layers"] if isinstance(cfg, dict) else cfg


def load_tfjs_weights(model_dir: str | Path) -> dict[str, np.ndarray]:
    """Read every tensor of a TF.js layers model into ``{name: array}`` (Keras layout)."""
    model_dir = Path(model_dir)
    spec = json.loads((model_dir / "model.json").read_text())
    out: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w.get("dtype", "float32") != "float32" or "quantization" in w:
                raise ValueError(f"unsupported tensor encoding for {w['name']}")
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            arr = np.frombuffer(buf, dtype="<f4", count=n, offset=offset).reshape(w["shape"])
            out[w["name"]] = arr.copy()
            offset += 4 * n
        if offset != len(buf):
            raise ValueError(f"weights manifest covers {offset} bytes of {len(buf)}")
    return out


def load_doodlenet(model_dir: str | Path) -> tuple[DoodleNet, list[str]]:
    """Build :class:`DoodleNet` and fill it from the TF.js files; returns it with its class names."""
    model_dir = Path(model_dir)
    spec = json.loads((model_dir / "model.json").read_text())
    names = [layer["config"]["name"] for layer in _keras_layers(spec["modelTopology"])
             if layer["class_name"] in ("Conv2D", "Dense")]
    weights = load_tfjs_weights(model_dir)
    classes = read_class_names(model_dir / "class_names.txt")
    model = DoodleNet(len(classes))
    targets = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(targets) != len(names):
        raise ValueError(f"expected {len(targets)} conv/dense layers, found {len(names)}")
    with torch.no_grad():
        for module, name in zip(targets, names, strict=True):
            k, b = weights[f"{name}/kernel"], weights[f"{name}/bias"]
            if isinstance(module, nn.Conv2d):
                k = k.transpose(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]
            else:
                k = k.T  # [in, out] -> [out, in]
            if tuple(module.weight.shape) != k.shape:
                raise ValueError(f"{name}: shape {k.shape} does not fit {tuple(module.weight.shape)}")
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(k)))
            module.bias.copy_(torch.from_numpy(b))
    return model.eval(), classes
