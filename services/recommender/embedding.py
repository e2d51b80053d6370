"""A small image embedding that compares sketches with photos without any model: edge orientations.

A sketch is its edges; a photo's strongest edges are its outline. Both are reduced to the same
descriptor: the region is fitted into a square, smoothed, and the orientation of its strongest
gradients (unsigned, ``bins`` directions) is histogrammed over a ``grid`` x ``grid`` layout, weighted
by gradient magnitude, then L2-normalised. Cosine similarity of two descriptors is how alike their
shapes are laid out (the classic edge-map/HOG approach to sketch-based image retrieval).

Any object with ``name`` and ``embed(image) -> np.ndarray`` can replace it (a neural image tower):
the gallery stores the embedder's name beside each vector and compares only vectors of one name.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps


class EdgeOrientationEmbedder:
    name = "edge-orientation-v1"

    def __init__(self, size: int = 64, grid: int = 4, bins: int = 8, keep: float = 0.15):
        self.size, self.grid, self.bins, self.keep = size, grid, bins, keep

    def embed(self, image: Image.Image) -> np.ndarray:
        g = ImageOps.exif_transpose(image).convert("L")
        g = ImageOps.pad(g, (self.size, self.size), color=int(np.median(np.asarray(g))))
        g = g.filter(ImageFilter.GaussianBlur(1.0))
        a = np.asarray(g, dtype=np.float32) / 255.0
        gy, gx = np.gradient(a)
        mag = np.hypot(gx, gy)
        if mag.max() <= 1e-6:
            return np.zeros(self.grid * self.grid * self.bins, dtype=np.float32)
        # Only the strongest edges: texture and noise would otherwise drown the outline.
        thr = np.quantile(mag, 1.0 - self.keep)
        mag = np.where(mag >= thr, mag, 0.0)
        ang = np.mod(np.arctan2(gy, gx), np.pi)
        b = np.minimum((ang / np.pi * self.bins).astype(int), self.bins - 1)
        cell = self.size // self.grid
        rows = np.minimum(np.arange(self.size) // cell, self.grid - 1)
        idx = (rows[:, None] * self.grid + rows[None, :]) * self.bins + b
        hist = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=self.grid * self.grid * self.bins)
        hist = np.sqrt(hist)  # damp a few very strong edges
        n = np.linalg.norm(hist)
        return (hist / n if n > 0 else hist).astype(np.float32)


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if a.shape != b.shape:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
