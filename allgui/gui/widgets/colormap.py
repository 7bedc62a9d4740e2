"""The heatmap colour scale of the window: viridis, a perceptually uniform map
(equal steps in heat look like equal steps in colour, and it reads in grey
and for colour-blind eyes), with numpy only, since the classify-only build
has no matplotlib. Colour is blended in proportion to the heat, so the cell
stays visible where the model did not look."""

from __future__ import annotations

import numpy as np

# viridis at 17 evenly spaced points (matplotlib's table); linear in between
# differs from the full 256-entry table by under one 8-bit step.
_ANCHORS = np.array([
    [0.267, 0.0049, 0.3294], [0.2823, 0.095, 0.4173], [0.2788, 0.1755, 0.4834],
    [0.259, 0.2515, 0.5247], [0.2297, 0.3224, 0.5457], [0.1994, 0.3876, 0.5546],
    [0.1727, 0.4488, 0.5579], [0.149, 0.5081, 0.5572], [0.1276, 0.5669, 0.5506],
    [0.1206, 0.6258, 0.5335], [0.1579, 0.6838, 0.5017], [0.2461, 0.7389, 0.452],
    [0.3692, 0.7889, 0.3829], [0.516, 0.8312, 0.2943], [0.6785, 0.8637, 0.1895],
    [0.8456, 0.8873, 0.0997], [0.9932, 0.9062, 0.1439],
])
_STEPS = np.linspace(0.0, 1.0, 256)
LUT = np.stack([np.interp(_STEPS, np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, k])
                for k in range(3)], axis=1)
LUT = (LUT * 255 + 0.5).astype(np.uint8)  # 256 x 3
NAME = "viridis"


def colour(values: np.ndarray) -> np.ndarray:
    """Values in 0..1 (any shape) to RGB uint8 (shape + (3,))."""
    x = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    return LUT[(x * 255 + 0.5).astype(np.intp)]


def blend(image: np.ndarray, heat: np.ndarray, opacity: float) -> np.ndarray:
    """The coloured heat over ``image`` (H x W x 3 uint8; heat H x W in 0..1)."""
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    weight = (np.float32(opacity) * heat)[..., None]
    base = np.asarray(image, dtype=np.float32)
    out = base + (colour(heat).astype(np.float32) - base) * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def bar(width: int, height: int) -> np.ndarray:
    """A horizontal colour bar, 0 on the left and 1 on the right (H x W x 3)."""
    return np.repeat(colour(np.linspace(0.0, 1.0, max(2, width)))[None], max(1, height), axis=0)
