"""The TF.js -> PyTorch conversion reproduces DoodleNet on Google's own bitmaps."""

import numpy as np
import pytest
import torch

from services.classifier.doodlenet import FILES, load_doodlenet
from services.common.assets import asset_dir
from training.data.quickdraw import bitmap_words, load_bitmaps


@pytest.fixture(scope="module")
def doodlenet():
    return load_doodlenet(asset_dir("models/doodlenet", FILES))


def test_shapes_and_classes(doodlenet):
    model, classes = doodlenet
    assert len(classes) == 345 and "hot dog" in classes and "The Eiffel Tower" in classes
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 345)


def test_reproduces_doodlenet_on_google_bitmaps(doodlenet):
    model, classes = doodlenet
    words = bitmap_words()
    if not words:
        pytest.skip("no shared bitmaps")
    correct = total = 0
    for w in words:
        b = load_bitmaps(w, limit=300)
        with torch.no_grad():
            pred = model(torch.from_numpy(b.astype(np.float32) / 255.0)[:, None]).argmax(1)
        correct += int((pred == classes.index(w)).sum())
        total += len(b)
    assert correct / total >= 0.78
