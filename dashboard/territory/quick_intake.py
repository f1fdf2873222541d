"""Quick intake (代录) by a grid worker: the :class:`NewCase` of a case recorded on a resident's behalf or found
on the round, in the worker's own grid, for the same validation and service as the full intake."""

from __future__ import annotations

from sqlmodel import Session, select

from dashboard.cases.intake import NewCase
from dashboard.kernel.errors import Invalid
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import shorten
from dashboard.territory.field import grid_in_scope
from models import Building
from models.enums import CaseSource

QUICK_CATEGORIES: tuple[str, ...] = ("ENV", "INF", "PRP", "SAF", "DIS", "ELD", "AID", "SEC")
"""Category codes offered as big buttons on quick intake (what grid workers record most); the rest are a
list away."""
QUICK_SOURCES: tuple[CaseSource, ...] = (CaseSource.proxy, CaseSource.grid_visit)
"""代录 on a resident's behalf (the resident is called back), or found by the worker on the round."""
QUICK_TITLE_MAX = 30


def quick_title(description: str) -> str:
    """The case title from the first line of what the worker typed (at most 30 characters, cut at a pause)."""
    first = next((line.strip() for line in (description or "").splitlines() if line.strip()), "")
    return shorten(first, QUICK_TITLE_MAX)


def quick_case(
    session: Session,
    actor: Actor,
    *,
    category_id: int | None,
    description: str,
    source: CaseSource | str = CaseSource.proxy,
    building_id: int | None = None,
    place: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
) -> NewCase:
    """The :class:`NewCase` of a quick intake in the worker's own grid, for the same validation and service
    as the full intake (``case_intake.validate_new_case`` / ``create_case``).

    The location is the grid; a building (of the grid) adds its point and name, so the map shows the case
    there and duplicates within 50 m are found. `place` adds detail (unit, door) to the address.
    """
    grid = grid_in_scope(session, actor, None)
    lon = lat = None
    address = (place or "").strip()
    if building_id is not None:
        b = session.exec(
            select(Building).where(Building.id == building_id, Building.grid_id == grid.id)
        ).first()
        if b is None:
            raise Invalid("field.err_building")
        lon, lat = b.lon, b.lat
        address = f"{b.name} {address}".strip() if not address.startswith(b.name) else address
    return NewCase(
        category_id=category_id,
        title=quick_title(description),
        source=source,
        description=(description or "").strip(),
        grid_id=grid.id,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        anonymous=anonymous,
    )
