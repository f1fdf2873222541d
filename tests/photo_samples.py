"""Small pictures for the photo tests, drawn with Pillow: a coloured scene with a label, as a phone would
send it (JPEG, optionally with an EXIF GPS block), a PNG, and a fake "image" (a script renamed .jpg)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

GPS_POINT = (118.28, 33.96)
"""(lon, lat) near the seeded sub-district's centre: EXIF writes it as 118°16'48" E, 33°57'36" N."""
FAKE_JPG = b"<?php system($_GET['c']); ?>\n<html><body>not a photo</body></html>\n"


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    return float(degrees), float(minutes), round((minutes_float - minutes) * 60, 4)


def scene(colour: tuple[int, int, int], label: str = "", size: tuple[int, int] = (640, 480)) -> Image.Image:
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((size[0] // 8, size[1] // 2, size[0] * 7 // 8, size[1] * 7 // 8), fill=(90, 90, 90))
    draw.text((20, 20), label or f"{colour}", fill=(255, 255, 255))
    return img


def jpeg(
    colour: tuple[int, int, int] = (52, 120, 200),
    label: str = "",
    *,
    gps: tuple[float, float] | None = None,
    size: tuple[int, int] = (640, 480),
) -> bytes:
    """A JPEG scene; with `gps` (lon, lat) it carries that point in its EXIF GPS block."""
    img = scene(colour, label, size)
    exif = Image.Exif()
    if gps is not None:
        lon, lat = gps
        exif[0x8825] = {
            1: "N" if lat >= 0 else "S",
            2: _dms(abs(lat)),
            3: "E" if lon >= 0 else "W",
            4: _dms(abs(lon)),
        }
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def png(colour: tuple[int, int, int] = (46, 160, 90), label: str = "") -> bytes:
    out = io.BytesIO()
    scene(colour, label).save(out, "PNG")
    return out.getvalue()
