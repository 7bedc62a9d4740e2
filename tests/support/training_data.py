"""Tiny two-class training data: class 1 has a bright red square."""

from __future__ import annotations

import numpy as np

from allgui.core.train.sources import TrainingData


def make_data(n_train=40, n_val=16, seed=0, size=32) -> TrainingData:
    """``n_train``/``n_val`` images of ``size`` px, classes alternating."""
    rng = np.random.default_rng(seed)

    def part(n):
        y = np.arange(n) % 2
        x = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
        x[y == 1, size // 4: 3 * size // 4, size // 4: 3 * size // 4, 0] = 220
        return x, y.astype(np.int64)

    a, b = part(n_train)
    c, d = part(n_val)
    return TrainingData(a, b, c, d, ("all", "hem"))
