"""Case photos in the seed (issue 22), so that every page that shows photos has some on first start.

A share of the cases (:data:`PHOTO_SHARE`) gets the reporter's photo (上报照片, linked to its report event,
taken where and when the case was reported), and those handled since also a 处置后 photo (linked to the
resolve event). The pictures are drawn with Pillow: a street scene in the category's colour with a label
(category, kind, variant), a few variants per category and kind. They go through the real renditions
and into the media store (files, not blobs); since the store is content-addressed, the cases that show
the same variant share its objects, which keeps the seed quick and the store small. A few closed cases
with both photos are marked 典型案例 for the meeting report and the wall.

The categories whose result is seen on the spot (:data:`AFTER_PHOTO_CATEGORIES`) require an after-photo
to resolve, as the migration sets them on an existing installation.

Everything here draws from its own random generator, so the rest of the seed is the same without photos.
"""

from __future__ import annotations

import random
from datetime import datetime
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import Engine, bindparam, select, text

from dashboard.media.checks import CheckedPhoto
from dashboard.media.renditions import Rendered, object_key, render
from dashboard.media.store import get_store
from models import Case, CaseEvent, Category
from seed.bulk import insert_rows

PHOTO_SHARE = 0.1
"""Cases with a report photo (and an after-photo once handled)."""
VARIANTS = 2
"""Drawn pictures per category and kind."""
TYPICAL = 6
"""Closed cases with both photos marked 典型案例."""
AFTER_PHOTO_CATEGORIES = ("ENV", "INF", "PRP", "SAF")
SIZE = (480, 360)
_SEED = 22
_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_HANDLED = ("resolved", "verified", "closed")
COLUMNS = (
    "case_id",
    "event_id",
    "kind",
    "content_hash",
    "mime",
    "size",
    "width",
    "height",
    "taken_at",
    "lon",
    "lat",
    "uploaded_by",
    "uploaded_at",
    "public",
)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A CJK font when the machine has one, else Pillow's own (then the label is ASCII only)."""
    try:
        return ImageFont.truetype(str(_FONT), size)
    except OSError:
        return ImageFont.load_default(size=size)


def _colour(code: str) -> tuple[int, int, int]:
    rng = random.Random(code)
    return rng.randint(60, 200), rng.randint(60, 200), rng.randint(60, 200)


def draw_scene(code: str, label: str, after: bool, variant: int) -> Image.Image:
    """A street scene: sky, a building, the road; before the work a heap in the category's colour, after
    it a tidy green strip; the label in a dark band at the bottom."""
    rng = random.Random(f"{code}-{after}-{variant}")
    w, h = SIZE
    img = Image.new("RGB", SIZE, (150 + rng.randint(0, 60), 190 + rng.randint(0, 40), 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, h * 0.62, w, h), fill=(105, 105, 110))
    for i in range(3):
        left = 20 + i * 150 + rng.randint(-15, 15)
        top = int(h * 0.18) + rng.randint(0, 60)
        draw.rectangle((left, top, left + 120, h * 0.62), fill=(200 - i * 25, 190 - i * 20, 170))
        for wy in range(top + 12, int(h * 0.58), 28):
            for wx in range(left + 12, left + 110, 30):
                draw.rectangle((wx, wy, wx + 20, wy + 18), fill=(90, 120, 160))
    colour = _colour(code)
    if after:
        draw.rectangle((40, h * 0.7, w - 40, h * 0.8), fill=(70, 150, 80))
    else:
        for _ in range(9):
            x, y = rng.randint(90, w - 120), rng.randint(int(h * 0.64), int(h * 0.8))
            points = [(x + rng.randint(0, 70), y + rng.randint(0, 40)) for _ in range(5)]
            draw.polygon(points, fill=colour)
    draw.rectangle((0, h - 48, w, h), fill=(25, 30, 40))
    draw.text((14, h - 41), label, fill=(255, 255, 255), font=_font(24))
    return img


def _pictures(categories: dict[int, tuple[str, str]]) -> dict[tuple[int, str, int], Rendered]:
    """The drawn variants, rendered and stored: (category id, kind, variant) → their stored forms."""
    store = get_store()
    out: dict[tuple[int, str, int], Rendered] = {}
    for cat_id, (code, name) in categories.items():
        for kind, word in (("report", "上报照片"), ("after", "处置后")):
            for variant in range(VARIANTS):
                label = f"{name} · {word} {variant + 1}"
                img = draw_scene(code, label, kind == "after", variant)
                done = render(CheckedPhoto(img, "image/jpeg", None, None, None))
                for form, data in done.objects().items():
                    store.put(object_key(done.content_hash, form), data)
                out[(cat_id, kind, variant)] = done
    return out


def _row(
    case_id: int, event: tuple[int, datetime, int | None], kind: str, pic: Rendered, at_point: tuple
) -> tuple:
    event_id, at, actor = event
    lon, lat = at_point if kind == "report" else (None, None)
    return (case_id, event_id, kind, pic.content_hash, pic.mime, len(pic.original), pic.width, pic.height,
            at, lon, lat, actor, at, False)  # fmt: skip


def write_photos(engine: Engine) -> dict[str, int]:
    """Photos for a share of the seeded cases, the after-photo rule of the categories that need it, and the
    typical cases; returns the row counts."""
    rng = random.Random(_SEED)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE categories SET after_photo_required = :yes WHERE code IN :codes").bindparams(
                bindparam("codes", expanding=True)
            ),
            {"yes": True, "codes": list(AFTER_PHOTO_CATEGORIES)},
        )
        categories = {
            r.id: (r.code, r.name_zh)
            for r in conn.execute(select(Category.id, Category.code, Category.name_zh))
        }
        cases = conn.execute(
            select(Case.id, Case.category_id, Case.status, Case.lon, Case.lat).order_by(Case.id)
        ).all()
        chosen = {c.id: c for c in cases if rng.random() < PHOTO_SHARE}
        events: dict[tuple[int, str], tuple[int, datetime, int | None]] = {}
        query = (
            select(CaseEvent.id, CaseEvent.case_id, CaseEvent.action, CaseEvent.at, CaseEvent.actor_id)
            .where(CaseEvent.action.in_(("report", "resolve")))  # type: ignore[attr-defined]
            .order_by(CaseEvent.id)
        )
        for event_id, case_id, action, at, actor in conn.execute(query):
            if case_id in chosen:
                events[(case_id, action)] = (event_id, at, actor)  # the last resolve wins (after a rework)
    if not chosen:
        return {"case_attachments": 0}
    pictures = _pictures(categories)
    rows: list[tuple] = []
    both: list[int] = []
    for case in chosen.values():
        variant = rng.randrange(VARIANTS)
        report = events.get((case.id, "report"))
        if report is None:
            continue
        rows.append(
            _row(
                case.id,
                report,
                "report",
                pictures[(case.category_id, "report", variant)],
                (case.lon, case.lat),
            )
        )
        resolved = events.get((case.id, "resolve"))
        if resolved is not None and case.status in _HANDLED:
            rows.append(
                _row(case.id, resolved, "after", pictures[(case.category_id, "after", variant)], (None, None))
            )
            if case.status == "closed":
                both.append(case.id)
    typical = both[-TYPICAL:]
    with engine.begin() as conn:
        insert_rows(conn, "case_attachments", COLUMNS, rows)
        if typical:
            ids = ", ".join(str(int(i)) for i in typical)
            conn.execute(text(f"UPDATE cases SET typical = :yes WHERE id IN ({ids})"), {"yes": True})  # noqa: S608
    return {"case_attachments": len(rows), "typical_cases": len(typical)}
