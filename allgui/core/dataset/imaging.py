"""Reading any image a user may have, and the one preprocessing step shared by
training and classification.

This module imports only numpy and Pillow: the torch-free classification path
uses it too, which is what guarantees that a cell image is prepared exactly
the same way when a model is trained and when it is used.

``read_rgb`` never crashes on a bad file: it raises :class:`ImageReadError`
with a short reason (zero-byte, truncated, not an image, too large, ...),
and turns every odd-but-valid image (grayscale, palette, RGBA, 16-bit, CMYK,
EXIF-rotated) into 8-bit RGB.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from allgui.core.errors import ImageReadError

# Extensions we look at when scanning folders (compared lower-case).
IMAGE_EXTENSIONS = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".gif"})

# A microscope tile of 20,000 x 20,000 is plausible; anything beyond is treated
# as a decompression bomb rather than decoded.
MAX_PIXELS = 400_000_000
# Pillow's own bomb check (89 million pixels by default) would refuse a
# 10,000 x 10,000 tile first: it is made to agree with allgui's limit, so one
# limit applies wherever allgui opens an image.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Truncated files must fail loudly, not decode as half-grey images.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def too_large(width: int, height: int, limit: int = MAX_PIXELS) -> str:
    """The reason given for an image over the pixel limit."""
    return f"image too large ({width} x {height} pixels; allgui's limit is {limit:,} pixels)"


def bomb_reason(exc: Exception, limit: int = MAX_PIXELS) -> str:
    """The same reason for Pillow's DecompressionBombError/Warning, which
    gives the pixel count but not the width and height."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels; " if found else ""
    return f"image too large ({size}allgui's limit is {limit:,} pixels)"


def upright_rgb(img: Image.Image) -> Image.Image:
    """An image already in memory made ready as :func:`read_rgb` makes a file:
    turned upright per its EXIF tag, then converted by :func:`to_rgb`."""
    return to_rgb(ImageOps.exif_transpose(img) or img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency goes onto black,
    the background of segmented C-NMC cells; 16-bit and float images are
    scaled to 0..255, never clipped."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _wide_to_rgb(img)
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


# Pixels converted at a time from a 16-bit or float image: memory stays bounded
# by the image's pixels (as for an 8-bit one), not by a float copy of it all.
_STRIP_PIXELS = 1 << 18


def _strips(img: Image.Image):
    """The image's values, a strip of rows at a time, as finite float32."""
    w, h = img.size
    rows = max(1, _STRIP_PIXELS // max(w, 1))
    for top in range(0, h, rows):
        strip = np.asarray(img.crop((0, top, w, min(top + rows, h)))).astype(np.float32)
        yield top, np.nan_to_num(strip, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _wide_to_rgb(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float image scaled to 8-bit, strip by strip."""
    lo, hi = np.inf, -np.inf
    for _, strip in _strips(img):
        if strip.size:
            lo, hi = min(lo, float(strip.min())), max(hi, float(strip.max()))
    if not np.isfinite(lo):
        lo = hi = 0.0
    # The range the pixels were stored in: 8-bit values in a wider type,
    # 16-bit, 0..1 floats; beyond those (32-bit integers, other floats)
    # the image's own range, so nothing is clipped to white.
    scale = 65535.0 if hi > 255 else 255.0
    if img.mode == "F" and hi <= 1.0:
        scale = 1.0
    if lo < 0 or hi > 65535:
        lo, scale = min(lo, 0.0), max(hi - min(lo, 0.0), 1e-12)
    else:
        lo = 0.0
    w, h = img.size
    out = np.empty((h, w), dtype=np.uint8)
    for top, strip in _strips(img):
        strip -= lo
        strip *= 255.0 / scale
        strip += 0.5
        np.clip(strip, 0, 255, out=strip)
        out[top:top + len(strip)] = strip.astype(np.uint8)
    return Image.frombuffer("L", (w, h), out, "raw", "L", 0, 1).convert("RGB")


def read_rgb(
    path: str | os.PathLike, max_pixels: int = MAX_PIXELS, data: bytes | None = None
) -> Image.Image:
    """Decode ``path`` to an 8-bit RGB Pillow image, upright per its EXIF tag;
    from ``data`` (the file's bytes, already read) when given.

    Raises ImageReadError with a short reason for anything unusable.
    """
    path = Path(path)
    if data is None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageReadError(
                str(path), f"cannot open the file ({exc.strerror or exc})"
            ) from exc
    else:
        size = len(data)
    if size == 0:
        raise ImageReadError(str(path), "empty file (0 bytes)")
    source = path if data is None else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns from its own limit upward and refuses at twice it: both
            # become allgui's one reason, and a smaller max_pixels is checked below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # damaged TIFF tags: handled below
            with Image.open(source) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageReadError(str(path), too_large(w, h, max_pixels))
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)  # multi-page TIFF or animated GIF: the first frame
                img.load()
                return upright_rgb(img)
    except ImageReadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageReadError(str(path), "not an image, or a format allgui cannot read") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(str(path), bomb_reason(exc, max_pixels)) from exc
    except OSError as exc:
        text = str(exc)
        reason = "truncated or corrupt image" if "truncated" in text or "broken" in text else (
            f"corrupt image ({text})"
        )
        raise ImageReadError(str(path), reason) from exc
    except (ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise ImageReadError(str(path), f"corrupt image ({exc})") from exc
    except Exception as exc:  # Pillow's plugins raise assorted errors on damaged files
        raise ImageReadError(str(path), f"corrupt image ({type(exc).__name__}: {exc})") from exc


def resize_area(img: Image.Image, size: int) -> np.ndarray:
    """Resize to ``size`` x ``size`` with area averaging (Pillow's BOX filter,
    the equivalent of OpenCV's INTER_AREA the paper used). Returns HxWx3 uint8."""
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8).copy()


def prepare_image(path: str | os.PathLike, size: int, data: bytes | None = None) -> np.ndarray:
    """Decode and resize one image (from ``data``, its bytes, when given): the
    preprocessing used everywhere."""
    return resize_area(read_rgb(path, data=data), size)
