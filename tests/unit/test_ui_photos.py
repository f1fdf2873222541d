"""The photo widget's own logic, without a browser: the point a photo's EXIF carries (proposed as the case's
location), previews that are small JPEGs (and none for a fake image), and one entry per distinct photo."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dashboard.ui import photos
from tests import photo_samples as samples


def test_the_gps_point_of_a_phone_photo_is_read_and_a_photo_without_one_has_none() -> None:
    point = photos.gps_of(samples.jpeg(gps=(118.281234, 33.962345)))
    assert point is not None
    assert point == pytest.approx((118.281234, 33.962345), abs=1e-5)
    west_south = photos.gps_of(samples.jpeg(gps=(-70.5, -33.25)))
    assert west_south == pytest.approx((-70.5, -33.25), abs=1e-5)
    assert photos.gps_of(samples.jpeg()) is None
    assert photos.gps_of(samples.png()) is None
    assert photos.gps_of(samples.FAKE_JPG) is None


def test_previews_are_small_jpegs_and_a_fake_image_gets_none() -> None:
    thumb = photos.preview(samples.jpeg(size=(1600, 1200)))
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "JPEG"
        assert max(img.size) == photos.THUMB_PX
    assert photos.preview(samples.png()) is not None
    assert photos.preview(samples.FAKE_JPG) is None
    assert photos.preview(b"") is None
