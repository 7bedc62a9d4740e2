"""The paper's augmentation, done on the GPU (or CPU) a whole batch at once.

Keras' ``ImageDataGenerator(rotation_range=15, width_shift_range=0.1,
height_shift_range=0.1, shear_range=0.1, zoom_range=0.1,
horizontal_flip=True)``: every image gets its own random draw (not one per
batch). Each draw is one 2x3 affine matrix mapping output to input
coordinates, as Keras builds them (rotation @ shift @ shear @ zoom, about
the image centre, zoom drawn per axis); a flip negates the x column. A
whole batch is then resampled by one ``affine_grid`` + ``grid_sample``
(bilinear; outside the image the border pixel is repeated, as Keras'
``fill_mode='nearest'``).

Shear: Keras reads ``shear_range`` as degrees, which at 0.1 would do
nothing; allgui reads it as the shear factor (0.1 = 10 %, about 5.7
degrees), the intent of "shear 10 %".

One departure, measured, in allgui's recommended protocol: each image of a
view is transformed with probability ``AugmentSettings.probability`` (0.5
there; 1.0 in the study's protocol, see :mod:`allgui.core.protocols`) and
otherwise used as it is (flipped or not, which is exact). With the backbone frozen, the head is
scored on the features of plain images, and every resampled image is away
from them: bilinear resampling softens the image (a 0.5 degree rotation
moves the pooled features by about 19 % of their norm on real smears) and a
shift repeats the border. A head that only ever saw resampled images
trained on another distribution than the one it is used on; on the shared
real set it then lost to a logistic regression on the plain features. With
half the draws exact, the untuned head's validation loss there fell from
0.12 to 0.04 (four classes) and from 0.06 to 0.05 (benign vs ALL). At 1.0
the draws are Keras' (the paper's).

Draws come from a ``torch.Generator`` seeded by (seed, view), so view ``v``
of image ``i`` is the same whichever mode or batch size computes it: what
lets the cached and online modes be compared exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSettings:
    rotation_deg: float = 15.0
    shift: float = 0.1  # fraction of width / height
    shear: float = 0.1  # shear factor
    zoom: float = 0.1  # zoom drawn in [1 - zoom, 1 + zoom] per axis
    hflip: bool = True
    # Chance that an image of a view is transformed; otherwise it is only flipped
    # (see the module docstring). 1.0 transforms every image, as Keras does.
    probability: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"augmentation probability {self.probability} is not in [0, 1]")

    @classmethod
    def from_search(cls, search) -> AugmentSettings:
        """The augmentation a search's settings (or any object with the same
        ``augment_*`` attributes) name."""
        return cls(rotation_deg=float(search.augment_rotation), shift=float(search.augment_shift),
                   shear=float(search.augment_shear), zoom=float(search.augment_zoom),
                   hflip=bool(search.augment_flip), probability=float(search.augment_probability))


# allgui's recommended augmentation (half the draws exact); the study's is probability 1.0.
DEFAULT_AUGMENTATION = AugmentSettings()


def view_generator(seed: int, view: int) -> torch.Generator:
    """The random source of augmented view ``view`` under ``seed``."""
    g = torch.Generator(device="cpu")
    g.manual_seed((int(seed) * 1_000_003 + int(view) * 7_919 + 17) % (2**63 - 1))
    return g


def random_affine_matrices(
    n: int, generator: torch.Generator, settings: AugmentSettings = DEFAULT_AUGMENTATION
) -> torch.Tensor:
    """``n`` independent output->input affine matrices (n, 2, 3) in
    ``affine_grid``'s normalised coordinates ([-1, 1] across the image)."""

    def uniform(low: float, high: float, size: int = n) -> torch.Tensor:
        return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)

    angle = uniform(-settings.rotation_deg, settings.rotation_deg) * (math.pi / 180.0)
    # A shift of a fraction f of the width is 2f in normalised coordinates.
    tx = uniform(-settings.shift, settings.shift) * 2.0
    ty = uniform(-settings.shift, settings.shift) * 2.0
    shear = uniform(-settings.shear, settings.shear)
    zx = uniform(1.0 - settings.zoom, 1.0 + settings.zoom)
    zy = uniform(1.0 - settings.zoom, 1.0 + settings.zoom)
    flip = uniform(0.0, 1.0) < 0.5 if settings.hflip else torch.zeros(n, dtype=torch.bool)

    eye = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    rot = eye.clone()
    rot[:, 0, 0], rot[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
    rot[:, 1, 0], rot[:, 1, 1] = torch.sin(angle), torch.cos(angle)
    shift = eye.clone()
    shift[:, 0, 2], shift[:, 1, 2] = tx, ty
    shr = eye.clone()
    shr[:, 0, 1] = shear
    zoom = eye.clone()
    zoom[:, 0, 0], zoom[:, 1, 1] = zx, zy
    m = rot @ shift @ shr @ zoom
    if settings.probability < 1.0:  # drawn last: at 1.0 the draws are the paper's, unchanged
        exact = uniform(0.0, 1.0) >= settings.probability
        m[exact] = torch.eye(3, dtype=torch.float64)
    m[flip, :, 0] = -m[flip, :, 0]  # read x from the mirrored side
    return m[:, :2, :].to(torch.float32)


def to_float_nchw(images: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1] on ``device``."""
    t = torch.as_tensor(images) if isinstance(images, np.ndarray) else images
    t = t.to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """[0, 1] images -> the backbone's normalised input."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def affine_grid(matrices: torch.Tensor, n: int, h: int, w: int,
                device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``F.affine_grid(matrices, (n, C, h, w), align_corners=False)``, made by
    broadcasting a row and a column per image instead of a (h*w, 3) matmul:
    two passes over the grid rather than several (the CPU's augmentation cost)."""
    m = matrices.to(device, dtype)
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1  # pixel centres
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    grid = torch.empty((n, h, w, 2), device=device, dtype=dtype)
    for k in range(2):  # output x, then y: m[k] . (x, y, 1)
        row = (m[:, k, 0, None] * xs + m[:, k, 2, None])[:, None, :]  # n, 1, w
        col = (m[:, k, 1, None] * ys)[:, :, None]  # n, h, 1
        torch.add(row, col, out=grid[..., k])
    return grid


def apply_affine(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Resample a float NCHW batch with one matrix per image."""
    n, _, h, w = x.shape
    grid = affine_grid(matrices, n, h, w, x.device, x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def model_input(
    images: np.ndarray | torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    device: torch.device | str,
    matrices: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 NHWC images -> the model's normalised float NCHW input (contiguous),
    augmented by ``matrices`` (one per image) when given.

    The same numbers as ``normalise(apply_affine(to_float_nchw(images)))`` up
    to float rounding, in fewer passes over the batch: the resampling is linear
    with weights summing to one, so the division by 255 and the normalisation
    become one multiply-add after it, and the uint8 -> float conversion makes
    the NCHW copy itself."""
    t = torch.as_tensor(images) if isinstance(images, np.ndarray) else images
    t = t.to(device, non_blocking=True)
    x = t.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    if matrices is not None:
        x = apply_affine(x, matrices)
    scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=x.device).view(1, -1, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)],
                         device=x.device).view(1, -1, 1, 1)
    return torch.addcmul(shift, x, scale)
