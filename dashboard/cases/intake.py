"""New cases: validation, numbering, recording with the SLA clock, and duplicate hints."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, cast, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import sla
from dashboard.cases.change import CaseRef, append_event
from dashboard.cases.errors import InvalidInput
from dashboard.kernel.errors import Busy, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from dashboard.kernel.text import clean_text, normalise_reporter_phone
from dashboard.reporting.kpi import not_duplicate
from dashboard.territory.geo import GridLocator, haversine_m
from models import Building, Case, CaseNumberCounter, Category, Grid
from models.enums import (
    OPEN_STATUSES,
    CaseSource,
    CaseStatus,
    Priority,
)

S = CaseStatus


NUMBER_PREFIX = "XL"
"""Case numbers are ``XL{yyyymmdd}-{seq:04d}`` (项里), unique per day of intake."""

DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class DuplicateHint:
    id: int
    number: str
    title: str
    status: CaseStatus
    reported_at: datetime
    distance_m: float


# ---------------------------------------------------------------- intake

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 200
NAME_MAX = 64


@dataclass
class NewCase:
    """A case as entered on the intake form (or the grid worker's quick intake), before validation.

    `grid_id` may be left None when `lon`/`lat` are given: the grid is then found by point-in-polygon. A
    `building_id` (楼栋/院落) gives the grid, the point (unless typed) and the start of the address.
    `limit` is a time limit set by the upper level for 上级交办 cases, in the category's calendar units.
    """

    category_id: int | None
    title: str
    source: CaseSource | str
    description: str = ""
    grid_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    priority: Priority | str | None = None
    external_id: str | None = None
    limit: float | None = None
    building_id: int | None = None


_last_locator: tuple[tuple[tuple[int, str], ...], GridLocator] | None = None
"""The grids :func:`locate_grid` read last and their locator (one per process: parsing the polygons cost a
fifth of an API intake's time)."""
_locator_lock = threading.Lock()


def locate_grid(session: Session, lon: float, lat: float) -> int | None:
    """The grid containing (lon, lat), or None. The polygons are read fresh every time (admins may edit
    them) and parsed again only when they differ from the last ones read."""
    global _last_locator
    rows = tuple(
        (gid, polygon) for gid, polygon in session.exec(select(Grid.id, Grid.polygon).order_by(Grid.id)).all()
    )
    if not rows:
        return None
    with _locator_lock:
        last = _last_locator
        if last is None or last[0] != rows:
            last = _last_locator = (rows, GridLocator(rows))
    return last[1].locate(lon, lat)


def _texts(data: NewCase, problems: dict[str, str]) -> dict[str, str]:
    """The free-text fields cleaned and trimmed, with their length problems."""
    texts = {
        "title": clean_text(data.title).strip(),
        "description": clean_text(data.description).strip(),
        "address": clean_text(data.address).strip(),
        "reporter_name": "" if data.anonymous else clean_text(data.reporter_name).strip(),
    }
    limits = {
        "title": TITLE_MAX,
        "description": DESCRIPTION_MAX,
        "address": ADDRESS_MAX,
        "reporter_name": NAME_MAX,
    }
    for field_name, limit in limits.items():
        if len(texts[field_name]) > limit:
            problems[field_name] = "errors.too_long"
    if not texts["title"]:
        problems["title"] = "errors.required"
    return texts


def _choices(session: Session, data: NewCase, problems: dict[str, str]) -> tuple[CaseSource, Priority | None]:
    """Category, source and priority checked against what exists."""
    category = session.get(Category, data.category_id) if data.category_id is not None else None
    if category is None or not category.active:
        problems["category"] = "errors.required"
    try:
        source = CaseSource(data.source)
    except ValueError:
        problems["source"] = "errors.required"
        source = CaseSource.walk_in
    priority: Priority | None = None
    if data.priority:
        try:
            priority = Priority(data.priority)
        except ValueError:
            problems["priority"] = "errors.required"
    limit = data.limit
    if limit is not None and not (math.isfinite(limit) and 0 < limit <= 365):
        problems["limit"] = "errors.extension_amount"
    return source, priority


def _at_building(session: Session, actor: Actor, data: NewCase, problems: dict[str, str]) -> NewCase:
    """The case placed at its building: the building's grid and point (typed coordinates win), and the
    address starting with the building's name. The building must be in the actor's scope and, when a grid
    was also chosen, in that grid."""
    if data.building_id is None:
        return data
    row = session.exec(
        select(Building.grid_id, Building.name, Building.lon, Building.lat)
        .join(Grid, Grid.id == Building.grid_id)
        .where(Building.id == data.building_id, grid_filter(actor))
    ).first()
    if row is None:
        problems["building"] = "errors.building_scope"
        return data
    grid_id, name, lon, lat = row
    if data.grid_id is not None and data.grid_id != grid_id:
        problems["building"] = "errors.building_grid"
        return data
    typed = data.lon is not None or data.lat is not None
    address = (data.address or "").strip()
    return replace(
        data,
        grid_id=grid_id,
        lon=data.lon if typed else lon,
        lat=data.lat if typed else lat,
        address=address if address.startswith(name) else f"{name}{address}",
    )


def _place(session: Session, actor: Actor, data: NewCase, problems: dict[str, str]) -> int | None:
    """The case's grid: given, or found from the point; it must be in the actor's scope."""
    lon, lat = data.lon, data.lat
    if (lon is None) != (lat is None):
        problems["location"] = "errors.lonlat_pair"
    elif lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems["location"] = "errors.lonlat_range"
    grid_id = data.grid_id
    if grid_id is None and "location" not in problems and "building" not in problems:
        if lon is None or lat is None:
            problems["grid"] = "errors.grid_or_point"
        else:
            grid_id = locate_grid(session, lon, lat)
            if grid_id is None:
                problems["location"] = "errors.point_outside"
    if grid_id is not None:
        in_scope = session.exec(select(Grid.id).where(Grid.id == grid_id, grid_filter(actor))).first()
        if in_scope is None:
            problems["grid"] = "errors.grid_scope"
    return grid_id


def _contact(data: NewCase, name: str, source: CaseSource, problems: dict[str, str]) -> tuple[str, str]:
    """The reporter's name and normalised phone (none for an anonymous report)."""
    if data.anonymous:
        return "", ""
    phone = clean_text(data.reporter_phone).strip()
    if phone:
        normal = normalise_reporter_phone(phone)
        if normal is None:
            problems["reporter_phone"] = "errors.phone_format"
        else:
            phone = normal
    if source == CaseSource.proxy:
        # 代录: recorded on a resident's behalf, who must be reachable for the follow-up.
        if not name:
            problems["reporter_name"] = "errors.proxy_contact"
        if not phone and "reporter_phone" not in problems:
            problems["reporter_phone"] = "errors.proxy_contact"
    return name, phone


def validate_new_case(session: Session, actor: Actor, data: NewCase) -> NewCase:
    """The cleaned case (clean trimmed text, normalised phone, grid resolved) or :class:`InvalidInput`
    naming every problem at once.

    Also refuses roles that may not record cases (:class:`NotPermitted`) and grids outside the actor's
    scope (reported as a problem with the grid, never revealing other grids).
    """
    if not may(actor, "case.intake"):
        raise NotPermitted(action="report")
    problems: dict[str, str] = {}
    data = _at_building(session, actor, data, problems)
    texts = _texts(data, problems)
    source, priority = _choices(session, data, problems)
    grid_id = _place(session, actor, data, problems)
    name, phone = _contact(data, texts["reporter_name"], source, problems)
    if problems:
        raise InvalidInput(problems)
    return replace(
        data,
        title=texts["title"],
        description=texts["description"],
        address=texts["address"],
        reporter_name=name,
        reporter_phone=phone,
        source=source,
        priority=priority,
        grid_id=grid_id,
        external_id=clean_text(data.external_id).strip() or None,
    )


def next_number(session: Session, day: datetime) -> str:
    """Take the next case number of `day` (see :func:`reserve_numbers`)."""
    return number_of(day, reserve_numbers(session, day, 1))


def number_of(day: datetime, seq: int) -> str:
    """The case number with sequence `seq` of `day`: ``XL20261202-0042``."""
    return f"{NUMBER_PREFIX}{day:%Y%m%d}-{seq:04d}"


def reserve_numbers(session: Session, day: datetime, count: int) -> int:
    """Reserve `count` consecutive case-number sequences of `day`; the first of them.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on the day's counter row: concurrent intakes
    queue briefly on the row instead of racing for "the highest number + 1" and failing. The counter
    starts from, and is kept above, the day's highest stored number (found through the unique index on
    ``number`` with a range condition; a LIKE would not use it on both backends). Numbers are unique
    and may have gaps; nothing relies on there being none.
    """
    key = f"{day:%Y%m%d}"
    prefix = f"{NUMBER_PREFIX}{key}-"
    seq = cast(func.substr(Case.number, len(prefix) + 1), Integer)
    highest = (
        select(func.coalesce(func.max(seq), 0))
        .where(Case.number >= prefix + "0", Case.number <= prefix + "99999")
        .scalar_subquery()
    )
    sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert if sqlite else pg_insert
    greatest = func.max if sqlite else func.greatest
    stmt = insert(CaseNumberCounter).values(day=key, last=highest + count)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day"],
        set_={"last": greatest(CaseNumberCounter.last + count, stmt.excluded.last)},
    ).returning(CaseNumberCounter.last)
    return int(session.execute(stmt).scalar_one()) - count + 1


NUMBER_ATTEMPTS = 3
"""A number can still be taken by an import writing the same day between the counter and the insert."""


def create_case(session: Session, actor: Actor, data: NewCase) -> CaseRef:
    """Validate and record a new case (status 'reported') with its SLA clock and its 'report' event.

    Due date, warning and black times come from the category's limit and calendar (or the upper level's
    limit for 上级交办), the response due time from the category's response limit. Two intakes racing for
    the same day queue on the day's counter (:func:`next_number`).
    """
    clean = validate_new_case(session, actor, data)
    category = session.get(Category, clean.category_id)
    grid = session.get(Grid, clean.grid_id)
    assert category is not None and grid is not None
    now = clock.now()
    cal = sla.load_calendar(session)
    limit = (
        clean.limit if clean.limit is not None and clean.source == CaseSource.assigned else category.sla_limit
    )
    times = sla.sla_times(now, limit, category.calendar, cal)
    response_due = sla.add_limit(now, category.response_limit, category.response_calendar, cal)
    for _ in range(NUMBER_ATTEMPTS):
        case = Case(
            number=next_number(session, now),
            category_id=category.id,  # type: ignore[arg-type]
            title=clean.title,
            description=clean.description,
            grid_id=grid.id,  # type: ignore[arg-type]
            community_id=grid.community_id,
            lon=clean.lon,
            lat=clean.lat,
            address=clean.address,
            source=CaseSource(clean.source),
            external_id=clean.external_id,
            reporter_name=clean.reporter_name,
            reporter_phone=clean.reporter_phone,
            reporter_anonymous=clean.anonymous,
            status=S.reported,
            priority=Priority(clean.priority or category.priority_default),
            reported_at=now,
            due_at=times.due_at,
            warn_at=times.warn_at,
            black_at=times.black_at,
            response_due_at=response_due,
            version=1,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            continue
        event_id = append_event(
            session,
            case_id=case.id,  # type: ignore[arg-type]
            actor=actor,
            action="report",
            from_status=None,
            to_status=S.reported,
            payload={"source": case.source, "limit": limit},
            at=now,
        )
        return CaseRef(case.id, case.number, 1, S.reported, event_id)  # type: ignore[arg-type]
    raise Busy("errors.number_busy")


# ---------------------------------------------------------------- duplicates


def _near(lon: float, lat: float, radius_m: float) -> list[ColumnElement[bool]]:
    """A bounding box around the point (cheap SQL prefilter; the exact distance is checked after)."""
    dlat = radius_m / 111_000 * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return [Case.lat.between(lat - dlat, lat + dlat), Case.lon.between(lon - dlon, lon + dlon)]


def find_duplicates(
    session: Session,
    actor: Actor,
    category_id: int,
    lon: float | None,
    lat: float | None,
    at: datetime,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[DuplicateHint]:
    """Open cases in scope of the same category within 50 m and 24 h of `at` (either side), nearest first.

    Without a location nothing can be matched, so the list is empty.
    """
    if lon is None or lat is None:
        return []
    stmt = (
        select(Case.id, Case.number, Case.title, Case.status, Case.reported_at, Case.lon, Case.lat)
        .where(
            Case.category_id == category_id,
            Case.reported_at >= at - DUPLICATE_WINDOW,
            Case.reported_at <= at + DUPLICATE_WINDOW,
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            not_duplicate(),
            case_filter(actor),
            *_near(lon, lat, DUPLICATE_RADIUS_M),
        )
        .limit(200)
    )
    if exclude_id is not None:
        stmt = stmt.where(Case.id != exclude_id)
    hits = []
    for cid, number, title, status, reported_at, clon, clat in session.exec(stmt).all():
        distance = haversine_m(lon, lat, clon, clat)
        if distance <= DUPLICATE_RADIUS_M:
            hits.append(
                DuplicateHint(cid, number, title, CaseStatus(status), reported_at, round(distance, 1))
            )
    hits.sort(key=lambda h: (h.distance_m, h.reported_at))
    return hits[:limit]
