"""C-NMC-shaped synthetic arrays for the benchmarks: one stained 'cell' on
black per image, two classes (2:1, as C-NMC's all:hem), made fast enough for
10,661 images at 224 px (variations of a few hundred drawn cells)."""

from __future__ import annotations

import numpy as np

from allgui.core.train.sources import TrainingData


def _cell(rng: np.random.Generator, size: int, leukemic: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    r_cell = rng.uniform(0.28, 0.36)
    r_nuc = r_cell * (rng.uniform(0.75, 0.9) if leukemic else rng.uniform(0.5, 0.7))
    cx, cy = rng.uniform(-0.05, 0.05, 2)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2 * rng.uniform(0.8, 1.2))
    img = np.zeros((size, size, 3), np.float32)
    cyto = np.array([170, 140, 190]) * rng.uniform(0.85, 1.1)
    nuc = np.array([90, 40, 140]) * rng.uniform(0.8, 1.2)
    img[d < r_cell] = cyto
    img[d < r_nuc] = nuc
    img += rng.normal(0, 8, img.shape) * (d < r_cell)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def make_arrays(n: int, size: int, seed: int = 0, templates: int = 128
                ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 1 / 3).astype(np.int64)  # 0 = all (2/3), 1 = hem (1/3)
    base = [np.stack([_cell(rng, size, leukemic=(c == 0)) for _ in range(templates)])
            for c in (0, 1)]
    images = np.empty((n, size, size, 3), np.uint8)
    for i, y in enumerate(labels):
        img = base[y][rng.integers(templates)]
        img = np.roll(img, tuple(rng.integers(-size // 10, size // 10 + 1, 2)), axis=(0, 1))
        images[i] = img[:, ::-1] if rng.random() < 0.5 else img
    return images, labels


def make_training_data(n: int, size: int, seed: int = 0, val_fraction: float = 0.2
                       ) -> TrainingData:
    images, labels = make_arrays(n, size, seed)
    n_val = max(2, round(n * val_fraction))
    return TrainingData(images[n_val:], labels[n_val:], images[:n_val], labels[:n_val],
                        ("all", "hem"), key=f"synthetic-{n}-{size}-{seed}")
