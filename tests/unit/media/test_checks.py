"""The checks of an uploaded photo and its renditions, without a database: content not name, the size and
pixel limits, the formats, EXIF read (GPS to WGS-84 decimal, time, orientation) and then stripped."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime

import pytest
from PIL import Image

from dashboard.i18n import t_plain
from dashboard.kernel.errors import Invalid
from dashboard.media import checks
from dashboard.media.checks import check_count, check_photo
from dashboard.media.renditions import SIZES, hash_of_key, object_key, render
from tests import photo_samples as samples

POINT = (118.285, 33.965)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares `width` × `height` pixels (a decompression bomb: its pixels never come)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _refusal(name: str, data: bytes) -> Invalid:
    with pytest.raises(Invalid) as caught:
        check_photo(name, data)
    message = t_plain(caught.value.key, **caught.value.values)
    assert name in message and not message.startswith("media.")  # a translated text naming the file
    return caught.value


@pytest.mark.parametrize(
    "data",
    [
        samples.FAKE_JPG,
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"\xff\xd8\xff\xe0" + b"x" * 200,
    ],
    ids=["php", "html", "jpeg-magic-then-junk"],
)
def test_a_file_that_is_no_picture_is_refused_whatever_its_name(data: bytes) -> None:
    err = _refusal("现场.jpg", data)
    assert err.key in ("media.err.not_image", "media.err.broken")
    assert "不是图片" in t_plain("media.err.not_image", name="x") and "文件内容" in t_plain(
        "media.err.not_image", name="x"
    )


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = _png_header_only(20_000, 20_000)  # 400 megapixels in a few dozen bytes
    assert len(bomb) < 200
    err = _refusal("bomb.png", bomb)
    assert err.key == "media.err.bomb"
    assert "像素过多" in t_plain(err.key, **err.values)


def test_a_50_mb_file_is_refused_by_its_size_with_the_limit_named() -> None:
    err = _refusal("big.jpg", b"\xff\xd8\xff" + bytes(50 * 1024 * 1024))
    assert err.key == "media.err.too_big"
    text = t_plain(err.key, **err.values)
    assert "50.0MB" in text and "10MB" in text


def test_an_empty_file_and_a_gif_are_refused() -> None:
    assert _refusal("empty.jpg", b"").key == "media.err.empty"
    gif = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(gif, "GIF")
    err = _refusal("anim.jpg", gif.getvalue())
    assert (err.key, err.values["format"]) == ("media.err.format", "GIF")


def test_more_than_ten_photos_on_a_case_are_refused() -> None:
    check_count(8, 2)
    with pytest.raises(Invalid) as caught:
        check_count(8, 3)
    assert caught.value.key == "media.err.too_many" and caught.value.values["max"] == 10


def _jpeg_with_exif(orientation: int | None = None) -> bytes:
    img = samples.scene((200, 60, 30), "exif", (400, 200))
    exif = Image.Exif()
    lon, lat = POINT
    exif[0x8825] = {1: "N", 2: samples._dms(lat), 3: "E", 4: samples._dms(lon)}
    exif[0x8769] = {0x9003: "2026:03:09 08:15:30"}
    exif[0x010F] = "PhoneMaker"
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_exif_gps_and_time_are_read_then_gone_from_every_stored_form() -> None:
    data = _jpeg_with_exif(orientation=6)  # the phone was held upright: rotate 90° on display
    photo = check_photo("p.jpg", data)
    assert photo.lon == pytest.approx(POINT[0], abs=1e-6) and photo.lat == pytest.approx(POINT[1], abs=1e-6)
    assert photo.taken_at == datetime(2026, 3, 9, 8, 15, 30)
    assert photo.image.size == (200, 400)  # orientation applied before the metadata went
    done = render(photo)
    assert (done.mime, done.width, done.height) == ("image/jpeg", 200, 400)
    for form, blob in done.objects().items():
        assert b"Exif" not in blob and b"PhoneMaker" not in blob, form
        with Image.open(io.BytesIO(blob)) as img:
            assert len(img.getexif()) == 0 and "exif" not in img.info and "icc_profile" not in img.info, form
            if form in SIZES:
                assert img.format == "WEBP" and max(img.size) == min(400, SIZES[form])


def _gps_exif(gps: dict[int, object]) -> Image.Exif:
    """The EXIF block a file with this GPS block reads as."""
    written = Image.Exif()
    written[0x8825] = gps
    read = Image.Exif()
    read.load(written.tobytes())
    return read


def test_south_and_west_points_are_negative_and_a_zero_fix_is_none() -> None:
    south_west = _gps_exif({1: "S", 2: (33.0, 30.0, 0.0), 3: "W", 4: (70.0, 15.0, 36.0)})
    assert checks.gps_point(south_west) == (pytest.approx(-70.26), pytest.approx(-33.5))
    no_fix = _gps_exif({1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)})
    assert checks.gps_point(no_fix) == (None, None)


def test_png_and_webp_are_accepted_and_keep_their_format() -> None:
    assert check_photo("a.png", samples.png()).mime == "image/png"
    webp = io.BytesIO()
    Image.new("RGBA", (50, 40), (10, 20, 30, 128)).save(webp, "WEBP")
    photo = check_photo("b.webp", webp.getvalue())
    done = render(photo)
    assert (photo.mime, done.width, done.height) == ("image/webp", 50, 40)
    assert done.content_hash == render(check_photo("again.webp", webp.getvalue())).content_hash
    key = object_key(done.content_hash, "thumb")
    assert hash_of_key(key) == done.content_hash and hash_of_key("other/file.txt") is None


@pytest.mark.skipif(not checks.HEIC_READABLE, reason="pillow-heif cannot read HEIC on this machine")
def test_heic_is_read_and_stored_as_jpeg() -> None:
    import pillow_heif

    heif = pillow_heif.from_pillow(samples.scene((30, 90, 200), "heic", (64, 48)))
    out = io.BytesIO()
    heif.save(out, quality=60)
    photo = check_photo("IMG_0001.HEIC", out.getvalue())
    assert photo.mime == "image/jpeg" and photo.image.size == (64, 48)
    assert render(photo).original[:2] == b"\xff\xd8"


def test_heic_is_refused_with_a_clear_message_where_it_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "HEIC_READABLE", False)
    fake_heic = b"\x00\x00\x00\x18ftypheic" + bytes(40)
    err = _refusal("IMG_0002.HEIC", fake_heic)
    assert err.key == "media.err.heic"
    assert "HEIC" in t_plain(err.key, **err.values)
