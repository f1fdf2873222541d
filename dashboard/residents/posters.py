"""QR posters (二维码海报) for the public 随手拍 form: one A4 page per grid or per building, as PNG and PDF.

A poster carries the grid's (and building's) name, its grid worker's name and masked phone, a QR code
pointing at ``<public base URL>/public/report?grid=<grid code>[&building=<id>]`` (the form opens with that
place chosen) and a few steps in large type for elderly residents.

The page is drawn once, with Pillow at 300 dpi, in the Noto Sans CJK font (the PNG); the PDF places that
same image (as a JPEG) on an A4 page. The reason: reportlab can only embed TrueType-outline fonts and the CJK fonts at
hand are CFF-flavoured OpenType, so Chinese drawn by reportlab would rely on the viewer's fonts (blank
boxes on a print shop's PC). Over the image the PDF carries the poster's text as an invisible layer (text
render mode 3, as in a scanned document), so it can be searched and copied.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import segno
from PIL import Image, ImageDraw, ImageFont
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlmodel import Session

from dashboard.config import ROOT
from dashboard.i18n import t_plain
from dashboard.kernel.errors import DomainError, NotFound, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.privacy import mask_phone
from dashboard.kernel.scope import Actor, grid_filter
from models import Building, Community, Grid, Subdistrict, User

REPORT_PATH = "/public/report"
"""The public form's address under the base URL (dashboard.residents' routes)."""

DPI = 300
PAGE_PX = (2480, 3508)
"""A4 (210 × 297 mm) at 300 dpi."""
MARGIN = 170
INK = (33, 33, 33)
BAND = (183, 28, 28)
"""The poster's red band: the colour of government service posters, strong contrast with white type."""
PALE = (255, 243, 224)
GREY = (97, 97, 97)

FONT_DIRS = (ROOT / "static" / "fonts", Path("/usr/share/fonts/opentype/noto"))
"""Where the CJK font is looked for: one shipped with the app, else the system's fonts-noto-cjk."""
FONT_FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
FONT_INDEX = 2
"""Face of the .ttc collection: 0 JP, 1 KR, 2 SC (Simplified Chinese), 3 TC, 4 HK."""
PDF_FONT = "STSong-Light"
"""The PDF's (invisible) text layer font: an Adobe CJK font every PDF reader knows; never drawn visibly."""


class PosterFontMissing(DomainError):
    """No CJK font is installed, so Chinese cannot be drawn (install fonts-noto-cjk)."""

    key = "poster.no_font"


@dataclass(frozen=True)
class Poster:
    """What one poster shows; `url` is what its QR code holds."""

    url: str
    grid_code: str
    grid_name: str
    community: str
    subdistrict: str
    worker_name: str
    worker_phone: str  # masked
    building_id: int | None = None
    building_name: str = ""

    @property
    def place(self) -> str:
        """The place in one line: 项里社区 第3网格 · 5号楼."""
        grid = self.grid_name  # seeded and imported names often start with the community's
        parts = [grid if grid.startswith(self.community) else f"{self.community} {grid}".strip()]
        if self.building_name:
            parts.append(self.building_name)
        return " · ".join(parts)

    @property
    def file_stem(self) -> str:
        """A file name without extension: the grid code, and the building when there is one."""
        return f"{self.grid_code}-{self.building_id}" if self.building_id is not None else self.grid_code


def report_url(base_url: str, grid_code: str, building_id: int | None = None) -> str:
    """The public form with the grid (and building) chosen: what a poster's QR code points at."""
    query = {"grid": grid_code} if building_id is None else {"grid": grid_code, "building": building_id}
    return f"{base_url.rstrip('/')}{REPORT_PATH}?{urlencode(query)}"


# ---------------------------------------------------------------- reading what posters show


def _check(actor: Actor) -> None:
    if not may(actor, "admin.manage"):
        raise NotPermitted("app.forbidden")


def _grid_rows(session: Session, actor: Actor, *conds: object) -> list[tuple]:
    stmt = (
        select(Grid.id, Grid.code, Grid.name, Community.name, User.display_name, User.phone)
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .where(grid_filter(actor), *conds)
        .order_by(Grid.code)
    )
    return list(session.exec(stmt).all())  # type: ignore[call-overload]


def _subdistrict(session: Session) -> str:
    return session.scalars(select(Subdistrict.name).order_by(Subdistrict.id).limit(1)).first() or ""


def _poster(row: tuple, base_url: str, subdistrict: str, building: tuple[int, str] | None = None) -> Poster:
    _, code, name, community, worker, phone = row
    return Poster(
        url=report_url(base_url, code, building[0] if building else None),
        grid_code=code,
        grid_name=name,
        community=community,
        subdistrict=subdistrict,
        worker_name=worker or "",
        worker_phone=mask_phone(phone),
        building_id=building[0] if building else None,
        building_name=building[1] if building else "",
    )


def grid_poster(
    session: Session, actor: Actor, grid_id: int, base_url: str, *, building_id: int | None = None
) -> Poster:
    """The poster of one grid, or of one of its buildings; NotFound outside the actor's scope."""
    _check(actor)
    rows = _grid_rows(session, actor, Grid.id == grid_id)
    if not rows:
        raise NotFound()
    building = None
    if building_id is not None:
        found = session.exec(  # type: ignore[call-overload]
            select(Building.id, Building.name).where(Building.id == building_id, Building.grid_id == grid_id)
        ).first()
        if found is None:
            raise NotFound()
        building = (int(found[0]), str(found[1]))
    return _poster(rows[0], base_url, _subdistrict(session), building)


def community_posters(session: Session, actor: Actor, community_id: int, base_url: str) -> list[Poster]:
    """One poster per grid of a community, by grid code (the batch download)."""
    _check(actor)
    subdistrict = _subdistrict(session)
    return [
        _poster(r, base_url, subdistrict)
        for r in _grid_rows(session, actor, Grid.community_id == community_id)
    ]


def building_posters(session: Session, actor: Actor, grid_id: int, base_url: str) -> list[Poster]:
    """One poster per building of a grid, by building name."""
    _check(actor)
    rows = _grid_rows(session, actor, Grid.id == grid_id)
    if not rows:
        raise NotFound()
    buildings = session.exec(  # type: ignore[call-overload]
        select(Building.id, Building.name).where(Building.grid_id == grid_id).order_by(Building.name)
    ).all()
    subdistrict = _subdistrict(session)
    return [_poster(rows[0], base_url, subdistrict, (int(b), str(n))) for b, n in buildings]


# ---------------------------------------------------------------- drawing


@cache
def _font_file(weight: str) -> Path:
    for folder in FONT_DIRS:
        path = folder / FONT_FILES[weight]
        if path.exists():
            return path
    raise PosterFontMissing()


@cache
def _font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_file(weight)), size, index=FONT_INDEX)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Lines of `text` no wider than `width`, broken between characters (Chinese has no spaces to break
    at; a Latin word is kept whole when it fits a line)."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text, font, width):
        if line and font.getlength(line + token) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(text: str, font: ImageFont.FreeTypeFont, width: float) -> Iterable[str]:
    """Each CJK character and space on its own, a run of other characters (a Latin word, a number) whole
    unless it is wider than a line (an address), then character by character."""
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            yield from (word if font.getlength(word) > width else (word,))
            word = ""
        yield ch
    if word:
        yield from (word if font.getlength(word) > width else (word,))


@dataclass(frozen=True)
class _Text:
    """A line drawn on the poster, kept for the PDF's text layer: position in pixels, size, text."""

    x: int
    y: int
    size: int
    text: str


class _Canvas:
    """A Pillow page that remembers every line it writes."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.image = Image.new("RGB", (round(PAGE_PX[0] * scale), round(PAGE_PX[1] * scale)), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[_Text] = []

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def box(self, x0: float, y0: float, x1: float, y1: float, fill: tuple[int, int, int]) -> None:
        self.draw.rectangle((self.px(x0), self.px(y0), self.px(x1), self.px(y1)), fill=fill)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: int,
        *,
        weight: str = "regular",
        fill: tuple[int, int, int] = INK,
        width: float | None = None,
        centre: bool = False,
        leading: float = 1.35,
    ) -> float:
        """Write `text` (wrapped to `width`) at (x, y) in page pixels; returns the y below it."""
        font = _font(weight, max(1, self.px(size)))
        width = width if width is not None else PAGE_PX[0] - x - MARGIN
        for line in _wrap(text, font, self.px(width)):
            left = x + (width - font.getlength(line) / self.scale) / 2 if centre else x
            self.draw.text((self.px(left), self.px(y)), line, font=font, fill=fill)
            self.lines.append(_Text(round(left), round(y), size, line))
            y += size * leading
        return y

    def qr(self, data: str, x: float, y: float, side: float) -> None:
        """The QR code of `data` (error correction M, a four-module quiet zone) in a `side`-pixel square."""
        code = segno.make(data, error="m", micro=False)
        matrix = code.matrix
        modules = len(matrix) + 8
        module = self.px(side) // modules  # whole pixels per module: crisp edges when printed
        left = self.px(x) + (self.px(side) - module * modules) // 2 + 4 * module
        top = self.px(y) + (self.px(side) - module * modules) // 2 + 4 * module
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    x0, y0 = left + c * module, top + r * module
                    self.draw.rectangle((x0, y0, x0 + module - 1, y0 + module - 1), fill="black")


def _draw(poster: Poster, lang: str, scale: float) -> _Canvas:
    """The page, top to bottom: red band with the title, the place, the QR code and its address, three
    steps in large type, the grid worker's box, the footer (page pixels at 300 dpi)."""
    page = _Canvas(scale)
    width = PAGE_PX[0] - 2 * MARGIN
    page.box(0, 0, PAGE_PX[0], 480, BAND)
    y = page.text(MARGIN, 90, t_plain("poster.title", lang), 170, weight="bold", fill=(255, 255, 255))
    page.text(MARGIN, y + 10, t_plain("poster.subtitle", lang), 72, fill=(255, 235, 238))

    y = page.text(MARGIN, 560, poster.place, 110, weight="bold", width=width, centre=True)
    side = 1300
    page.qr(poster.url, (PAGE_PX[0] - side) / 2, y, side)
    y = page.text(MARGIN, y + side, poster.url, 40, fill=GREY, width=width, centre=True) + 40

    for number, step in enumerate(("poster.step_scan", "poster.step_write", "poster.step_keep"), start=1):
        y = page.text(MARGIN, y, f"{number}. {t_plain(step, lang)}", 92, width=width, leading=1.3) + 16

    top = max(y + 30, 2830)
    page.box(MARGIN - 40, top, PAGE_PX[0] - MARGIN + 40, top + 420, PALE)
    worker = (
        t_plain("poster.worker", lang, name=poster.worker_name, phone=poster.worker_phone or "—")
        if poster.worker_name
        else t_plain("poster.no_worker", lang)
    )
    y = page.text(MARGIN, top + 60, t_plain("poster.no_phone_help", lang), 68, width=width)
    page.text(MARGIN, y + 20, worker, 80, weight="bold", width=width)
    footer = t_plain("poster.footer", lang, subdistrict=poster.subdistrict, grid=poster.grid_code)
    page.text(MARGIN, top + 500, footer, 44, fill=GREY, width=width, centre=True)
    return page


def poster_png(poster: Poster, lang: str = "zh", *, scale: float = 1.0) -> bytes:
    """The poster as a PNG: A4 at 300 dpi (`scale` 1), or smaller for a preview."""
    page = _draw(poster, lang, scale)
    out = io.BytesIO()
    page.image.save(out, "PNG", compress_level=1 if scale >= 1 else 6, dpi=(DPI * scale, DPI * scale))
    return out.getvalue()


@cache
def _pdf_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


_RL_CONFIG = threading.Lock()


@contextmanager
def _binary_streams() -> Iterator[None]:
    """reportlab without ASCII85 (its pure-Python encoder took seconds per A4 page): binary streams, as
    every PDF reader takes. reportlab reads the flag from a module; only posters use reportlab."""
    with _RL_CONFIG:
        before = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = before


def posters_pdf(posters: Sequence[Poster], lang: str = "zh") -> bytes:
    """The posters as one PDF, an A4 page each (the batch download of a community is one file to print).

    Each page is the drawn poster as a JPEG (quality 92, no chroma subsampling: crisp type and QR modules
    at 300 dpi; a tenth of the lossless size and passed to the PDF as it is), under the invisible text."""
    out = io.BytesIO()
    page_w, page_h = A4
    per_px = page_w / PAGE_PX[0]
    with _binary_streams(), tempfile.TemporaryDirectory() as folder:
        pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
        pdf.setTitle(
            t_plain("poster.pdf_title", lang, place=posters[0].place if len(posters) == 1 else "").strip()
        )
        for number, poster in enumerate(posters):
            page = _draw(poster, lang, 1.0)
            jpeg = Path(folder) / f"{number}.jpg"  # by file name: reportlab embeds a JPEG file unchanged
            page.image.save(jpeg, "JPEG", quality=92, subsampling=0, dpi=(DPI, DPI))
            pdf.drawImage(str(jpeg), 0, 0, width=page_w, height=page_h)
            text = pdf.beginText()
            text.setTextRenderMode(3)  # invisible: the image shows the poster, this layer makes it searchable
            for line in page.lines:
                text.setFont(_pdf_font(), line.size * per_px)
                text.setTextOrigin(line.x * per_px, page_h - (line.y + line.size) * per_px)
                text.textOut(line.text)
            pdf.drawText(text)
            pdf.showPage()
        pdf.save()
    return out.getvalue()
