"""QR posters: the PNG's QR code decodes back to the public form's address (grid, and building), the PDF
carries the grid's name as text and one page per poster, the posters read the grid, its worker (phone
masked) and its buildings in scope, and the residents' address setting is checked."""

from __future__ import annotations

import io
import re
import zlib

import pytest
import zxingcpp
from PIL import Image
from reportlab.lib.rl_accel import escapePDF

from dashboard.admin import settings
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted
from dashboard.residents import posters
from dashboard.residents.posters import Poster
from models import Building, Grid, User
from tests.factories import World

BASE = "https://jm.example.cn/xl"

POSTER = Poster(
    url=posters.report_url(BASE, "XL-03-07", 41),
    grid_code="XL-03-07",
    grid_name="项里社区第7网格",
    community="项里社区",
    subdistrict="项里街道",
    worker_name="刘洋",
    worker_phone="138****5678",
    building_id=41,
    building_name="幸福苑5号楼",
)


def _decoded(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [r.text for r in zxingcpp.read_barcodes(image)]


def _streams(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """(dictionary, data) of every stream of the PDF, by its /Length."""
    out = []
    for m in re.finditer(rb"<<((?:(?!>>).)*?)>>\s*stream\r?\n", pdf, re.S):
        length = int(re.search(rb"/Length (\d+)", m.group(1)).group(1))  # type: ignore[union-attr]
        out.append((m.group(1), pdf[m.end() : m.end() + length]))
    return out


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF's content streams, inflated."""
    return b"\n".join(zlib.decompress(data) for head, data in _streams(pdf) if b"/FlateDecode" in head)


def _pdf_pages(pdf: bytes) -> list[Image.Image]:
    """The page images (JPEG streams) of the PDF, as drawn."""
    return [Image.open(io.BytesIO(data)) for head, data in _streams(pdf) if b"/DCTDecode" in head]


def _shown(text: str) -> bytes:
    """How the PDF's text layer writes `text` (UTF-16BE in the CJK font, PDF-escaped)."""
    return escapePDF(text.encode("utf_16_be")).encode("latin-1")


def test_report_url_names_the_grid_and_building() -> None:
    assert posters.report_url(BASE + "/", "XL-03-07") == f"{BASE}/public/report?grid=XL-03-07"
    assert POSTER.url == f"{BASE}/public/report?grid=XL-03-07&building=41"


def test_png_poster_qr_decodes_to_the_form_of_its_grid_and_building() -> None:
    png = posters.poster_png(POSTER, scale=0.5)  # the full 300 dpi page is the PDF test's
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1754) and round(image.info["dpi"][0]) == 150  # A4 at 150 dpi
    assert _decoded(png) == [POSTER.url]
    whole = Poster(**{**POSTER.__dict__, "url": posters.report_url(BASE, "XL-03-07"), "building_id": None})
    assert _decoded(posters.poster_png(whole, scale=0.5)) == [f"{BASE}/public/report?grid=XL-03-07"]


def test_pdf_has_the_posters_text_and_a_page_each() -> None:
    other = Poster(**{**POSTER.__dict__, "grid_code": "XL-03-08", "grid_name": "项里社区第8网格"})
    pdf = posters.posters_pdf([POSTER, other])
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2
    text = _pdf_text(pdf)
    for shown in ("项里社区第7网格", "项里社区第8网格", "幸福苑5号楼", "138****5678", "随手拍"):
        assert _shown(shown) in text, shown
    assert _shown("13812345678") not in text
    # each page is the drawn poster (Chinese in the CJK font), whose QR code reads back from the PDF itself
    pages = _pdf_pages(pdf)
    assert [p.size for p in pages] == [posters.PAGE_PX] * 2
    assert [r.text for r in zxingcpp.read_barcodes(pages[1].reduce(2))] == [other.url]


def _prepare(w: World) -> tuple[int, int]:
    """Give TS-01-01 a worker with a phone and two buildings; returns (grid id, a building's id)."""
    with w.session() as s:
        grid = s.get(Grid, w.grid["TS-01-01"])
        worker = s.get(User, w.actors["grid_worker"].id)
        assert grid is not None and worker is not None
        worker.phone, grid.worker_id = "13900001234", worker.id
        buildings = [Building(grid_id=grid.id, name=n, lon=118.001, lat=33.001) for n in ("2号楼", "1号楼")]
        s.add_all([grid, worker, *buildings])
        s.commit()
        return int(grid.id), int(buildings[0].id)  # type: ignore[arg-type]


def test_posters_read_the_grid_its_worker_and_buildings(world: World) -> None:
    w = world
    grid_id, building_id = _prepare(w)
    admin = w.actors["admin"]
    with w.session() as s:
        poster = posters.grid_poster(s, admin, grid_id, BASE)
        assert (poster.grid_code, poster.worker_name, poster.worker_phone) == (
            "TS-01-01",
            "测试grid_worker",
            "139****1234",
        )
        assert (poster.community, poster.subdistrict) == ("测试1社区", "测试街道")
        assert poster.url == f"{BASE}/public/report?grid=TS-01-01"
        one = posters.grid_poster(s, admin, grid_id, BASE, building_id=building_id)
        assert one.url.endswith(f"grid=TS-01-01&building={building_id}") and one.building_name == "2号楼"
        assert [p.building_name for p in posters.building_posters(s, admin, grid_id, BASE)] == [
            "1号楼",
            "2号楼",
        ]
        batch = posters.community_posters(s, admin, w.community_ids[0], BASE)
        assert [p.grid_code for p in batch] == ["TS-01-01", "TS-01-02"]
        assert batch[1].worker_name == "" and batch[1].worker_phone == ""
        with pytest.raises(NotFound):  # a building of another grid
            posters.grid_poster(s, admin, w.grid["TS-01-02"], BASE, building_id=building_id)
        with pytest.raises(NotPermitted):
            posters.grid_poster(s, w.actors["operator"], grid_id, BASE)


def test_residents_address_setting_is_an_http_address() -> None:
    key = "residents.public_base_url"
    assert settings.parse(key, " https://jm.example.cn/xl/ ") == "https://jm.example.cn/xl"
    assert settings.parse(key, "http://10.2.3.4:8501") == "http://10.2.3.4:8501"
    for bad in ("javascript:alert(1)", "jm.example.cn", "https://jm.example.cn/?grid=1", "http://a b"):
        with pytest.raises(Invalid):
            settings.parse(key, bad)
