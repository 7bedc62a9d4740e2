"""Drawing a heatmap over a cell image, with numpy and Pillow only.

The colour scale is Google's Turbo (an improved rainbow: dark blue for no
evidence, through green and yellow, to dark red for the strongest), from its
published polynomial approximation, so no plotting library is needed.
Colour is blended in proportion to the heat, so the cell stays visible where
the model did not look.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, PngImagePlugin

from allgui.core.files.atomic import atomic_write_bytes

# Written into each heatmap PNG, so a later run knows the file as its own
# and may replace it (see allgui.core.files.outputs).
MARK = "allgui heatmap"
# A figure is drawn at most this many pixels a side per image: a 9000 px scan
# would otherwise need gigabytes for its float copies.
FIGURE_SIDE = 1024

# Turbo, polynomial approximation (Mikhailov, Google AI blog, 2019): degree-5
# coefficients for red, green and blue.
_TURBO = np.array(
    [
        [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
        [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
        [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
    ],
    dtype=np.float64,
)


def _turbo_exact(x: np.ndarray) -> np.ndarray:
    powers = np.stack([x**k for k in range(6)], axis=-1)
    return np.clip(powers @ _TURBO.T, 0.0, 1.0)


# 1024 steps: finer than 8-bit colour can show, and a table lookup is ~20x
# faster than the polynomial on a full-size image.
_LUT = (_turbo_exact(np.linspace(0.0, 1.0, 1024)) * 255.0 + 0.5).astype(np.uint8)


def turbo(values: np.ndarray) -> np.ndarray:
    """Map values in 0..1 (any shape) to RGB uint8 (shape + (3,))."""
    x = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    return _LUT[(x * (len(_LUT) - 1) + 0.5).astype(np.intp)]


def overlay(image: np.ndarray, heatmap: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Blend the coloured heatmap over ``image`` (H x W x 3 uint8; heatmap H x W in 0..1)."""
    image = np.asarray(image, dtype=np.uint8)
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    if heat.shape != image.shape[:2]:
        raise ValueError(f"heatmap {heat.shape} does not match image {image.shape[:2]}")
    weight = (np.float32(strength) * heat)[..., None]
    base = image.astype(np.float32)
    blended = base + (turbo(heat).astype(np.float32) - base) * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def heatmap_figure(image: np.ndarray, heatmap: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """The image and its overlay side by side, with a 0..1 colour bar underneath."""
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    gap = max(2, width // 100)
    both = np.zeros((height, 2 * width + gap, 3), dtype=np.uint8)
    both[:, :width] = image
    both[:, width + gap :] = overlay(image, heatmap, strength)
    bar_height = max(6, height // 30)
    bar = turbo(np.linspace(0.0, 1.0, both.shape[1]))[None].repeat(bar_height, axis=0)
    spacer = np.zeros((gap, both.shape[1], 3), dtype=np.uint8)
    return np.concatenate([both, spacer, bar], axis=0)


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", MARK)
    # compress_level 1: a sixth of the default's time, files ~25 % larger (cells on black)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGB").save(
        buf, format="PNG", compress_level=1, pnginfo=info
    )
    return buf.getvalue()


def is_heatmap_png(path: str | os.PathLike) -> bool:
    """True for a PNG this module wrote (it carries :data:`MARK`)."""
    try:
        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get("Software") == MARK
    except Exception:  # not an image, unreadable: not ours
        return False


def bounded(image: np.ndarray, heatmap: np.ndarray, side: int = FIGURE_SIDE):
    """The image and its heatmap scaled down to ``side`` pixels a side when larger."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image, heatmap
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize(size, Image.Resampling.BOX))
    heat = np.asarray(
        Image.fromarray(np.asarray(heatmap, np.float32)).resize(size, Image.Resampling.BILINEAR)
    )
    return small, heat


def save_heatmap_png(
    path: str | os.PathLike, image: np.ndarray, heatmap: np.ndarray, *, side_by_side: bool = True
) -> None:
    """Write the heatmap figure (or just the overlay) as a PNG, atomically,
    at most :data:`FIGURE_SIDE` pixels a side per image."""
    image, heatmap = bounded(image, heatmap)
    pixels = heatmap_figure(image, heatmap) if side_by_side else overlay(image, heatmap)
    atomic_write_bytes(path, png_bytes(pixels))
