"""Service requests: ``GET requests`` (filtered and paged in SQL), ``GET requests/{id}``, ``GET tokens/{token}``
and ``POST requests`` (the staff intake with source 系统对接).

A request is written exactly as the Open311 export writes it (:func:`dashboard.io.open311.request_item`).
Who reads decides what it shows (:class:`Reader`): without a key (or with a key that may not read) the
public view of every case: the address cut to the building, no reporter (a request never has one), the
status as its label only; with a reading key the client's scope (its actor's :func:`case_filter` and its
communities), the address unmasked when the client may see personal data, and the status notes followed by
the note of the last status change that has one (the reason of a refusal, the result of the handling).

``GET requests`` follows the specification: ``service_request_id`` (comma list) overrides every other
filter; otherwise ``service_code`` and ``status`` (comma lists), and ``start_date``/``end_date`` on the time
reported, at most 90 days apart, the last 90 days when neither is given. Newest first, ``page_size`` (at most
1,000, the default) per ``page``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, select

from dashboard import clock
from dashboard.api import clients
from dashboard.api.clients import ApiClientView
from dashboard.api.open311 import services
from dashboard.cases import intake
from dashboard.i18n import t_plain
from dashboard.io.open311 import CLOSED_STATUSES, request_item, request_select
from dashboard.kernel.errors import Invalid, NotFound, Problem
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from dashboard.kernel.text import clean_text
from dashboard.territory.quick_intake import quick_title
from models import Building, Case, CaseEvent, Category, Grid
from models.enums import CaseSource

MAX_PAGE_SIZE = 1000
MAX_SPAN = timedelta(days=90)
MEDIA_URL_MAX = 500
YEARS = (1900, 2200)
"""The years a start_date or end_date may name."""


@dataclass(frozen=True)
class Reader:
    """Who reads requests: the public (`actor` None) or an API client's scope (its actor's, communities
    included)."""

    actor: Actor | None = None
    unmasked: bool = False


PUBLIC = Reader()


def reader_for(client: ApiClientView | None) -> Reader:
    """The public for no client or one without read scope, else the client's scope."""
    if client is None or not client.can_read:
        return PUBLIC
    return Reader(clients.actor_for(client), client.sees_personal_data)


@dataclass(frozen=True)
class RequestQuery:
    """The filters of ``GET requests``; `numbers` (when given) replaces all the others."""

    numbers: tuple[str, ...] | None = None
    codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()
    page: int = 1
    page_size: int = MAX_PAGE_SIZE


def _bad(name: str, key: str, lang: str, **values: object) -> Problem:
    return Problem("open311.error.bad_param", {"name": name, "reason": t_plain(key, lang, **values)})


def _items(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def parse_time(value: str) -> datetime:
    """A w3 date-time (ISO 8601) as naive Beijing time; without an offset it is taken as Beijing time.
    ValueError for anything else."""
    parsed = datetime.fromisoformat(value.strip())
    if not YEARS[0] <= parsed.year <= YEARS[1]:  # 90 days either side must stay a date, the offset too
        raise ValueError(value)
    return parsed if parsed.tzinfo is None else parsed.astimezone(clock.TZ).replace(tzinfo=None)


def _int(
    params: Mapping[str, str], name: str, default: int, high: int, problems: list[Problem], lang: str
) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if raw.isdigit() and 1 <= int(raw) <= high:
        return int(raw)
    problems.append(_bad(name, "open311.error.integer", lang, low=1, high=high))
    return default


def _times(params: Mapping[str, str], problems: list[Problem], lang: str) -> tuple[datetime | None, ...]:
    found: dict[str, datetime | None] = {}
    for name in ("start_date", "end_date"):
        raw = params.get(name, "").strip()
        try:
            found[name] = parse_time(raw) if raw else None
        except ValueError:
            problems.append(_bad(name, "open311.error.date", lang))
            found[name] = None
    start, end = found["start_date"], found["end_date"]
    if start is not None and end is not None and end - start > MAX_SPAN:
        problems.append(_bad("end_date", "open311.error.span", lang))
    return start, end


def parse_query(params: Mapping[str, str], lang: str) -> RequestQuery:
    """The filters of ``GET requests`` from its parameters; :class:`Invalid` naming every bad one."""
    problems: list[Problem] = []
    page = _int(params, "page", 1, 1_000_000, problems, lang)
    page_size = _int(params, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE, problems, lang)
    numbers = _items(params.get("service_request_id", ""))
    if len(numbers) > MAX_PAGE_SIZE:
        problems.append(_bad("service_request_id", "open311.error.too_many", lang, n=MAX_PAGE_SIZE))
    statuses = frozenset(_items(params.get("status", "").lower()))
    if not statuses <= {"open", "closed"}:
        problems.append(_bad("status", "open311.error.status", lang))
    start, end = _times(params, problems, lang)
    if problems:
        raise Invalid(details=problems)
    return RequestQuery(
        numbers or None, _items(params.get("service_code", "")), start, end, statuses, page, page_size
    )


def _window(query: RequestQuery, now: datetime) -> tuple[datetime, datetime | None]:
    """The reported-time range: as given, completed to 90 days, or the last 90 days."""
    if query.start is not None:
        return query.start, query.end or query.start + MAX_SPAN
    if query.end is not None:
        return query.end - MAX_SPAN, query.end
    return now - MAX_SPAN, None


def _scope(reader: Reader) -> list[ColumnElement[bool]]:
    return [] if reader.actor is None else [case_filter(reader.actor)]


def conditions(reader: Reader, query: RequestQuery, now: datetime) -> list[ColumnElement[bool]]:
    """The SQL conditions on `Case` (and `Category`) of a query by `reader`."""
    found = _scope(reader)
    if query.numbers is not None:
        return [*found, Case.number.in_(query.numbers)]
    if query.codes:
        found.append(Category.code.in_(query.codes))
    start, end = _window(query, now)
    found.append(Case.reported_at >= start)
    if end is not None:
        found.append(Case.reported_at <= end)
    closed = [s.value for s in CLOSED_STATUSES]
    if query.statuses == {"open"}:
        found.append(Case.status.not_in(closed))
    elif query.statuses == {"closed"}:
        found.append(Case.status.in_(closed))
    return found


def _last_notes(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The note of the last status change with a note, by case (comments and other side actions, which do
    not change the status, are not shown)."""
    rows = (
        session.connection()
        .execute(
            select(CaseEvent.case_id, CaseEvent.note)
            .where(
                CaseEvent.case_id.in_(ids),
                CaseEvent.to_status.is_not(None),  # type: ignore[union-attr]
                or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != CaseEvent.to_status),  # type: ignore[union-attr]
                CaseEvent.note != "",
            )
            .order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)  # type: ignore[arg-type]
        )
        .all()
    )
    return {case_id: note for case_id, note in rows}


def _rows(session: Session, stmt: Any) -> Sequence[Any]:
    """The rows of a statement of plain columns, through the connection: the ORM's result layer adds a
    tenth to a page of 1,000 requests and nothing it does is needed here."""
    return session.connection().execute(stmt).all()


def _as_requests(session: Session, reader: Reader, rows: Sequence[Any], lang: str) -> list[dict[str, Any]]:
    items = [request_item(r, lang, reader.unmasked) for r in rows]
    if reader.actor is not None and rows:
        notes = _last_notes(session, [r[0] for r in rows])
        for row, item in zip(rows, items, strict=True):
            if row[0] in notes:
                item["status_notes"] = t_plain(
                    "open311.status_with_note", lang, status=item["status_notes"], note=notes[row[0]]
                )
    return items


def find_requests(session: Session, reader: Reader, query: RequestQuery, lang: str) -> list[dict[str, Any]]:
    """One page of the requests `reader` may see that match `query`, newest first."""
    stmt = (
        request_select()
        .where(*conditions(reader, query, clock.now()))
        .order_by(Case.reported_at.desc(), Case.id.desc())  # type: ignore[union-attr, attr-defined]
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return _as_requests(session, reader, _rows(session, stmt), lang)


def one_request(session: Session, reader: Reader, number: str, lang: str) -> list[dict[str, Any]]:
    """``GET requests/{id}``: the request of case `number` as a list of one; :class:`NotFound` when there
    is none in the reader's scope."""
    rows = _rows(session, request_select().where(*_scope(reader), Case.number == number))
    if not rows:
        raise NotFound("open311.error.no_request", id=number)
    return _as_requests(session, reader, rows, lang)


def token_request(session: Session, token: str) -> list[dict[str, Any]]:
    """``GET tokens/{token}``: the request a POST's token stands for; :class:`NotFound` for an unknown one."""
    case_id = clients.case_for_token(session, token)
    number = session.exec(select(Case.number).where(Case.id == case_id)).first() if case_id else None
    if number is None:
        raise NotFound("open311.error.no_token", token=token)
    return [{"service_request_id": number, "token": token}]


# ---------------------------------------------------------------- POST requests


def _float(params: Mapping[str, str], name: str, problems: list[Problem], lang: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(_bad(name, "open311.error.number", lang))
        return None
    return value


def _building(params: Mapping[str, str], problems: list[Problem], lang: str) -> int | None:
    raw = params.get("address_id", "").strip()
    if not raw:
        return None
    if raw.isdigit() and len(raw) < 10:
        return int(raw)
    problems.append(_bad("address_id", "open311.error.address_id", lang))
    return None


def building_in_address(session: Session, actor: Actor, address: str) -> tuple[int, str] | None:
    """The building (id, the address from its name on) whose name the address names, in the actor's grids:
    the longest name found, and None when no name is found or two buildings share the longest."""
    rows = session.exec(select(Building.id, Building.name).join(Grid).where(grid_filter(actor))).all()
    hits = [(len(name), bid, name) for bid, name in rows if name and name in address]
    if not hits:
        return None
    hits.sort(reverse=True)
    if len(hits) > 1 and hits[1][0] == hits[0][0]:
        return None
    _, bid, name = hits[0]
    return bid, address[address.index(name) :]


def _media_line(params: Mapping[str, str], problems: list[Problem], lang: str) -> str | None:
    url = params.get("media_url", "").strip()
    if not url:
        return None
    if not url.lower().startswith(("http://", "https://")) or len(url) > MEDIA_URL_MAX or " " in url:
        problems.append(_bad("media_url", "open311.error.media_url", lang))
        return None
    return t_plain("open311.media_line", lang, url=url)


def new_case(
    session: Session,
    actor: Actor,
    category: Category,
    params: Mapping[str, str],
    posted: Sequence[tuple[str, str]],
    lang: str,
) -> intake.NewCase:
    """The intake form of a POST: the description's first line as the title (else the service's name), the
    attributes' lines and the media link below the description, the reporter from first/last name and
    phone (anonymous without either), the place from lat/long, address_id (a building) or a building named
    in address_string. :class:`Invalid` for parameters that are not even of the right kind."""
    problems: list[Problem] = []
    lat, lon = _float(params, "lat", problems, lang), _float(params, "long", problems, lang)
    building_id = _building(params, problems, lang)
    media = _media_line(params, problems, lang)
    try:
        answers = services.read_answers(category, posted, lang)
    except Invalid as err:
        problems.extend(err.details)
        answers = services.Answers()
    if problems:
        raise Invalid(details=problems)
    address = clean_text(params.get("address_string", "")).strip()
    if lat is None and lon is None and building_id is None and address:
        found = building_in_address(session, actor, address)
        if found is not None:
            building_id, address = found
    text = clean_text(params.get("description", "")).strip()
    name = (clean_text(params.get("last_name", "")) + clean_text(params.get("first_name", ""))).strip()
    phone = clean_text(params.get("phone", "")).strip()
    return intake.NewCase(
        category_id=category.id,
        title=quick_title(text) or category.name_zh,
        source=CaseSource.api,
        description="\n".join(part for part in (text, *answers.lines, media or "") if part),
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=name,
        reporter_phone=phone,
        anonymous=not name and not phone,
        priority=answers.priority,
        external_id=answers.external_id,
        building_id=building_id,
    )


def _notice(session: Session, actor: Actor, category: Category, ref: Any, lang: str) -> str:
    """The time limit and due time of the new case, and the nearest open case of the same kind (the
    intake's duplicate check, on the place the intake resolved)."""
    due, lon, lat, at = session.exec(
        select(Case.due_at, Case.lon, Case.lat, Case.reported_at).where(Case.id == ref.id)
    ).one()
    hints = intake.find_duplicates(session, actor, category.id, lon, lat, at, exclude_id=ref.id)  # type: ignore[arg-type]
    limit = f"{category.sla_limit:g} {t_plain(f'enum.calendar.{category.calendar}', lang)}"
    notice = t_plain(
        "open311.notice", lang, number=ref.number, limit=limit, due=f"{due:%Y-%m-%d %H:%M}" if due else "—"
    )
    if hints:
        near = hints[0]
        notice += t_plain(
            "open311.notice_duplicate", lang, number=near.number, distance=f"{near.distance_m:g}"
        )
    return notice


def submit(
    session: Session,
    client: ApiClientView,
    params: Mapping[str, str],
    posted: Sequence[tuple[str, str]],
    *,
    path: str,
    lang: str,
) -> list[dict[str, Any]]:
    """``POST requests`` in the caller's transaction: the staff intake (validation, normalisation, the
    duplicate check, the case with its SLA clock and 'report' event) as the client's actor, the request
    registered for the client's callbacks, the write audited. Returns the answer's list of one: the case
    number as ``service_request_id`` (the case exists at once), the token the request is registered under
    (``GET tokens/{token}``; callbacks name it), and a notice with the time limit and any open case of the
    same kind nearby (the command centre merges duplicates; an API report is never held back)."""
    actor = clients.actor_for(client)
    code = params.get("service_code", "").strip()
    if not code:
        raise Invalid(details=[_bad("service_code", "errors.required", lang)])
    category = services.active_category(session, code)
    data = new_case(session, actor, category, params, posted, lang)
    ref = intake.create_case(session, actor, data)  # validates (the same checks as the staff form)
    token = clients.register_request(session, client, ref.id)
    clients.audit_write(session, client, path, ref.number, f"service_code={category.code}")
    clients.record_use(session, client.id)
    notice = _notice(session, actor, category, ref, lang)
    return [{"service_request_id": ref.number, "token": token, "service_notice": notice}]
