"""The meeting deck's 典型案例 slides: the cases the command centre marked typical, each with its photo from
before the work and after it side by side, and what the case was about.

Built from plain data (:class:`TypicalCase`, photos as bytes) like the rest of the deck; PowerPoint takes
JPEG and PNG but not the WebP renditions of the media store, so each photo is re-encoded as JPEG here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image
from pptx.enum.text import PP_ALIGN
from pptx.presentation import Presentation as Deck
from pptx.slide import Slide
from pptx.util import Emu, Inches

from dashboard.i18n import t_plain
from dashboard.reporting.slide_kit import BODY_H, BODY_TOP, BODY_W, GREY, MARGIN, content_slide, write

PER_SLIDE = 2
"""Typical cases per slide (one row each: before, after, and the text)."""
_ROW_GAP = Inches(0.25)
_PHOTO_GAP = Inches(0.2)
_LABEL_H = Inches(0.35)


@dataclass(frozen=True)
class TypicalCase:
    """One typical case as the deck shows it: photos as bytes (any format Pillow reads), None when absent."""

    number: str
    title: str
    category: str
    grid: str
    result: str
    before: bytes | None
    after: bytes | None


def _jpeg(data: bytes) -> tuple[io.BytesIO, float] | None:
    """The photo as a JPEG stream and its width/height ratio; None when it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = img.convert("RGB")
    except Exception:  # a photo that cannot be read is left out, the slide still says what the case was
        return None
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    out.seek(0)
    return out, rgb.width / max(rgb.height, 1)


def _photo(slide: Slide, data: bytes | None, label: str, lang: str, box: tuple[Emu, Emu, Emu, Emu]) -> None:
    """A photo fitted (aspect kept) into `box` (left, top, width, height) below its label, or "no photo"."""
    left, top, width, height = box
    heading = slide.shapes.add_textbox(left, top, width, _LABEL_H)
    write(heading.text_frame, [label], 13, bold=True, color=GREY, align=PP_ALIGN.CENTER)
    top = Emu(top + _LABEL_H)
    height = Emu(height - _LABEL_H)
    picture = _jpeg(data) if data else None
    if picture is None:
        note = slide.shapes.add_textbox(left, top, width, Inches(0.5))
        write(note.text_frame, [t_plain("photos.deck.no_photo", lang)], 12, color=GREY, align=PP_ALIGN.CENTER)
        return
    stream, ratio = picture
    w, h = width, Emu(int(width / ratio))
    if h > height:
        w, h = Emu(int(height * ratio)), height
    slide.shapes.add_picture(stream, Emu(left + (width - w) // 2), top, w, h)


def _row(slide: Slide, case: TypicalCase, lang: str, top: Emu, height: Emu) -> None:
    photo_w = Emu(int(BODY_W * 0.3))
    text_left = Emu(MARGIN + 2 * photo_w + 2 * _PHOTO_GAP)
    second = Emu(MARGIN + photo_w + _PHOTO_GAP)
    _photo(slide, case.before, t_plain("photos.deck.before", lang), lang, (MARGIN, top, photo_w, height))
    _photo(slide, case.after, t_plain("photos.deck.after", lang), lang, (second, top, photo_w, height))
    text_w = Emu(MARGIN + BODY_W - text_left)
    head = slide.shapes.add_textbox(text_left, Emu(top + _LABEL_H), text_w, Inches(1.0))
    write(head.text_frame, [case.number, case.title], 16, bold=True)
    body = slide.shapes.add_textbox(text_left, Emu(top + _LABEL_H + Inches(1.05)), text_w, Inches(1.0))
    write(
        body.text_frame,
        [f"{case.category} · {case.grid}", *([case.result] if case.result else [])],
        13,
        color=GREY,
    )


def typical_slides(prs: Deck, cases: Sequence[TypicalCase], lang: str) -> None:
    """One slide per :data:`PER_SLIDE` typical cases; none when no case is marked."""
    title = t_plain("photos.deck.title", lang)
    finding = t_plain("photos.deck.finding", lang, count=len(cases))
    height = Emu((BODY_H - _ROW_GAP * (PER_SLIDE - 1)) // PER_SLIDE)
    for start in range(0, len(cases), PER_SLIDE):
        slide = content_slide(prs, title, finding)
        for i, case in enumerate(cases[start : start + PER_SLIDE]):
            _row(slide, case, lang, Emu(BODY_TOP + i * (height + _ROW_GAP)), height)
