"""Draws the app icon (a stained lymphoblast: pale cytoplasm, large violet
nucleus) as PNGs in ``allgui/resources/``. Run: ``python resources/make_icon.py``."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "allgui" / "resources"


def draw(size: int) -> Image.Image:
    scale = 4  # supersample, then shrink, for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad = s * 0.04
    d.ellipse([pad, pad, s - pad, s - pad], fill=(20, 20, 28, 255))  # the black C-NMC field
    c = s * 0.13
    d.ellipse([c, c * 1.1, s - c, s - c * 0.9], fill=(214, 170, 222, 255))  # cytoplasm
    n = s * 0.24
    d.ellipse([n * 0.95, n, s - n * 1.05, s - n * 0.85], fill=(98, 44, 150, 255))  # nucleus
    h = s * 0.36
    d.ellipse([h, h * 0.95, h + s * 0.12, h * 0.95 + s * 0.1], fill=(150, 96, 200, 255))
    img = img.filter(ImageFilter.GaussianBlur(scale * 0.4))
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(256).save(OUT / "allgui.png")
    draw(256).save(OUT / "allgui.ico", sizes=[(16, 16), (32, 32), (48, 48), (256, 256)])
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
