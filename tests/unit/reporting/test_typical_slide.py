"""The meeting deck's 典型案例 slide: each typical case with its before and its after photo (WebP renditions
re-encoded, since PowerPoint cannot show WebP), its number and title; a case without an after-photo says so;
no slide when no case is marked; the exported deck takes the marked cases of its scope from the database."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from dashboard import clock
from dashboard.media import attachments
from dashboard.reporting import export
from dashboard.reporting.slide_kit import SLIDE_H, SLIDE_W
from dashboard.reporting.typical_slide import TypicalCase, typical_slides
from models.enums import AttachmentKind, CaseStatus
from tests import photo_samples as samples
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case

S = CaseStatus


def _webp(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    samples.scene(colour, size=(640, 480)).save(out, "WEBP")
    return out.getvalue()


def _deck(cases: list[TypicalCase]):  # type: ignore[no-untyped-def]
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    typical_slides(prs, cases, "zh")
    return prs


def _texts(slide) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def test_a_typical_case_shows_its_before_and_after_photos_inside_the_slide() -> None:
    case = TypicalCase(
        "XL20261201-0007",
        "小区东门垃圾堆放",
        "环境卫生",
        "XL-03-07",
        "已清运",
        _webp((200, 80, 40)),
        _webp((40, 160, 80)),
    )
    prs = _deck([case])
    assert len(prs.slides) == 1
    slide = prs.slides[0]
    pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) == 2
    for pic in pictures:
        assert pic.image.content_type == "image/jpeg"
        assert pic.left >= 0 and pic.top >= 0
        assert pic.left + pic.width <= SLIDE_W and pic.top + pic.height <= SLIDE_H
    assert pictures[0].left < pictures[1].left  # before on the left, after on the right
    text = _texts(slide)
    for expected in (
        "典型案例",
        "XL20261201-0007",
        "小区东门垃圾堆放",
        "处置前",
        "处置后",
        "环境卫生 · XL-03-07",
    ):
        assert expected in text, expected
    with Image.open(io.BytesIO(pictures[1].image.blob)) as img:
        assert img.getpixel((5, 5))[1] > 120  # the after photo is the green one


def test_three_cases_take_two_slides_and_a_missing_photo_is_named() -> None:
    full = TypicalCase("XL1", "一", "环境卫生", "XL-01-01", "", _webp((1, 2, 3)), _webp((3, 2, 1)))
    no_after = TypicalCase("XL2", "二", "安全隐患", "XL-01-02", "", _webp((9, 9, 9)), None)
    prs = _deck([full, no_after, full])
    assert len(prs.slides) == 2
    first = prs.slides[0]
    assert sum(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in first.shapes) == 3
    assert "（无照片）" in _texts(first)
    assert len(_deck([]).slides) == 0


@pytest.mark.world(CASE_LOOP)
def test_the_exported_deck_has_the_typical_case_slide_with_its_two_photos(world: World) -> None:
    w, op = world, world.actors["operator"]
    with clock.frozen(CASE_LOOP_NOW), w.session() as s:
        case = put_case(s, w, S.resolved, grid=0, number="XL20260309-0042", title="东门垃圾堆放")
        before = samples.jpeg((200, 80, 40), "before")
        attachments.add_photos(s, op, case_id=case.id, kind=AttachmentKind.before, files=[("a.jpg", before)])  # type: ignore[arg-type]
        after = samples.jpeg((40, 160, 80), "after")
        attachments.add_photos(s, op, case_id=case.id, kind=AttachmentKind.after, files=[("b.jpg", after)])  # type: ignore[arg-type]
        attachments.mark_typical(s, op, case_id=case.id, typical=True)  # type: ignore[arg-type]
        s.commit()
        # what export() passes to build_deck, for the report's scope and language (the rest of the report
        # is the report tests' business, and slow to build)
        scope = SimpleNamespace(community_id=None, lang="zh")
        typical = export.typical_for_deck(s, op, scope)  # type: ignore[arg-type]
    assert [(c.number, c.category, c.grid) for c in typical] == [("XL20260309-0042", "环境卫生", "第1网格")]
    slides = [sl for sl in _deck(typical).slides if "XL20260309-0042" in _texts(sl)]
    assert len(slides) == 1
    pictures = [sh for sh in slides[0].shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) == 2
    assert "典型案例" in _texts(slides[0])
