"""Odd and broken image files, made on the spot, for reading and scanning tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def cell_pixels(seed: int = 0, size: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def exif_rotated_jpeg() -> bytes:
    """A 30 wide x 20 high JPEG whose EXIF says 'rotate 90 degrees' (orientation 6)."""
    img = Image.fromarray(cell_pixels(1, 1)[0:1].repeat(20, 0).repeat(30, 1))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(img, "JPEG", exif=exif.tobytes())


def write_odd_files(folder: Path) -> dict[str, str]:
    """Write one file of each kind into ``folder``; return name -> 'bad' or 'ok'."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(cell_pixels())
    good_png = encoded(rgb, "PNG")
    files = {
        "zero.bmp": (b"", "bad"),
        "truncated.png": (good_png[: len(good_png) // 2], "bad"),
        "notes.jpg": (b"This is a text file, not a picture.\n" * 20, "bad"),
        "bomb.png": (bomb_png(), "bad"),
        "gray.png": (encoded(rgb.convert("L"), "PNG"), "ok"),
        "palette.png": (encoded(rgb.convert("P"), "PNG"), "ok"),
        "rgba.png": (encoded(rgb.convert("RGBA"), "PNG"), "ok"),
        "deep16.png": (
            encoded(Image.fromarray(cell_pixels()[..., 0].astype(np.uint16) * 257), "PNG"),
            "ok",
        ),
        "cmyk.jpg": (encoded(rgb.convert("CMYK"), "JPEG"), "ok"),
        "rotated.jpg": (exif_rotated_jpeg(), "ok"),
        "upper.Jpg": (encoded(rgb, "JPEG"), "ok"),
        "upper.BMP": (encoded(rgb, "BMP"), "ok"),
        "scan.tif": (encoded(rgb, "TIFF"), "ok"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: kind for name, (_, kind) in files.items()}
