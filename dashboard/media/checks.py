"""What an uploaded photo must be before anything is stored: a real JPEG, PNG, WebP or HEIC picture (read by
Pillow from its content, never judged by its name), at most :data:`MAX_BYTES`, at most :data:`MAX_PIXELS`
pixels (a small file may decode into gigabytes: a decompression bomb), and no more than
:data:`MAX_PER_CASE` photos on a case.

:func:`check_photo` opens the file twice, as Pillow requires: ``verify()`` walks the encoded data without
decoding it (a truncated or forged file fails here), then a second open decodes it with ``load()``. The
EXIF facts the row keeps (when, where) are read from the decoded picture before the stored bytes lose
them (:mod:`dashboard.media.renditions`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError

from dashboard.kernel.errors import Invalid

try:  # HEIC/HEIF (iPhones): readable when pillow-heif and its libheif work on this machine
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC_READABLE = True
except Exception:  # pragma: no cover - pillow-heif is in requirements.txt; a broken libheif refuses HEIC
    HEIC_READABLE = False

MAX_BYTES = 10 * 1024 * 1024
"""Largest photo accepted (the phone's full-size JPEG is 2–6 MB)."""
MAX_PER_CASE = 10
"""Photos a case may carry (removed ones do not count)."""
MAX_PIXELS = 50_000_000
"""Largest picture decoded (a 50-megapixel phone photo); a larger one is refused from its header, before
decoding. It is below Pillow's own warning limit (``Image.MAX_IMAGE_PIXELS``, 89 megapixels), so no
process-wide warning filter is needed (those are not thread-safe in a server); Pillow's error limit
(twice that) is caught as well."""
FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
}
"""Pillow format → MIME type of the pictures accepted (MPO: the multi-picture JPEG some phones write)."""
HEIF_FORMATS = frozenset({"HEIF", "HEIC"})

_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132


@dataclass(frozen=True)
class CheckedPhoto:
    """An accepted photo: decoded, turned upright by its EXIF orientation, metadata still to be dropped."""

    image: Image.Image
    mime: str
    """Of the original as it will be stored (a HEIC photo is stored as JPEG: browsers cannot show HEIC)."""
    taken_at: datetime | None
    lon: float | None
    lat: float | None


def _refuse(key: str, name: str, **values: object) -> Invalid:
    return Invalid(f"media.err.{key}", name=name, **values)


def check_count(existing: int, adding: int) -> None:
    """Refuse an upload that would take a case over :data:`MAX_PER_CASE` photos."""
    if existing + adding > MAX_PER_CASE:
        raise Invalid("media.err.too_many", max=MAX_PER_CASE, existing=existing, adding=adding)


def check_photo(name: str, data: bytes) -> CheckedPhoto:
    """`data` as an accepted photo, or :class:`~dashboard.kernel.errors.Invalid` saying why not (`name` is
    only quoted in the message)."""
    if not data:
        raise _refuse("empty", name)
    if len(data) > MAX_BYTES:
        raise _refuse("too_big", name, mb=f"{len(data) / 1024 / 1024:.1f}", max=MAX_BYTES // (1024 * 1024))
    fmt = _verified_format(name, data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            _check_pixels(name, img)
            img.load()
            exif = img.getexif()
            upright = ImageOps.exif_transpose(img)
    except Invalid:
        raise
    except Image.DecompressionBombError:
        raise _refuse("bomb", name, max=MAX_PIXELS // 1_000_000) from None
    except Exception:  # any decoder failure: the file is not the picture it claims to be
        raise _refuse("broken", name) from None
    lon, lat = gps_point(exif)
    mime = "image/jpeg" if fmt in HEIF_FORMATS else FORMATS[fmt]
    return CheckedPhoto(upright, mime, taken_at(exif), lon, lat)


def _verified_format(name: str, data: bytes) -> str:
    """The Pillow format of `data` after ``verify()``; refusals for what is no picture, a format not taken
    and HEIC where it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").upper()
            _check_pixels(name, img)
            img.verify()
    except Invalid:
        raise
    except Image.DecompressionBombError:  # Pillow's own limit, met when the header is opened
        raise _refuse("bomb", name, max=MAX_PIXELS // 1_000_000) from None
    except UnidentifiedImageError:
        raise _refuse(_unknown_reason(data), name) from None
    except Exception:
        raise _refuse("broken", name) from None
    if fmt in HEIF_FORMATS:
        if not HEIC_READABLE:
            raise _refuse("heic", name)
        return fmt
    if fmt not in FORMATS:
        raise _refuse("format", name, format=fmt or "?")
    return fmt


def _unknown_reason(data: bytes) -> str:
    """ "heic" for a HEIC file this machine cannot read (its ``ftyp`` box says so), else "not_image"."""
    if not HEIC_READABLE and data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic"
    return "not_image"


def _check_pixels(name: str, img: Image.Image) -> None:
    if img.width * img.height > MAX_PIXELS:
        raise _refuse("bomb", name, max=MAX_PIXELS // 1_000_000)


def taken_at(exif: Image.Exif) -> datetime | None:
    """When the photo was taken (EXIF DateTimeOriginal, else DateTime), as the camera's local time."""
    value = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _decimal(dms: object, ref: object, negative: str) -> float | None:
    """EXIF degrees/minutes/seconds (three rationals) and the hemisphere letter as signed decimal degrees."""
    try:
        degrees, minutes, seconds = (float(x) for x in dms)  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    sign = -1.0 if str(ref or "").strip("\x00 ").upper() == negative else 1.0
    return sign * (degrees + minutes / 60 + seconds / 3600)


def gps_point(exif: Image.Exif) -> tuple[float | None, float | None]:
    """(lon, lat) of the EXIF GPS block in WGS-84 decimal degrees (what phones write), or (None, None)
    when there is none or it is no point on earth (0, 0 is a phone without a fix)."""
    gps = exif.get_ifd(_GPS_IFD)
    lat = _decimal(gps.get(2), gps.get(1), "S")
    lon = _decimal(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return round(lon, 7), round(lat, 7)
