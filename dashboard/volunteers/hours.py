"""Service records (服务记录) and hours: record, list, verify, and totals by volunteer, grid, community,
employer unit or month."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, extract, func, literal, select, update
from sqlmodel import Session

from dashboard import clock
from dashboard.io import exports
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted, Problem
from dashboard.kernel.privacy import mask_name
from dashboard.kernel.scope import (
    Actor,
    case_filter,
    grid_filter,
    service_record_filter,
    volunteer_filter,
)
from dashboard.reporting.kpi import Period
from dashboard.volunteers.common import (
    Page,
    _clamp_page,
    _require,
)
from models import Case, Community, Grid, ResidentUnit, ServiceRecord, Volunteer
from models.enums import SKILLS

MAX_RECORD_HOURS = 24.0
"""A single service record may not be longer than this."""

TotalsBy = Literal["volunteer", "grid", "community", "employer", "month"]


def _visible_grid(session: Session, actor: Actor, grid_id: int) -> Grid | None:
    return session.exec(select(Grid).where(Grid.id == grid_id, grid_filter(actor))).scalar_one_or_none()


def _case_by_number(session: Session, actor: Actor, number: str) -> Case | None:
    return session.exec(
        select(Case).where(Case.number == number.strip(), case_filter(actor))
    ).scalar_one_or_none()


def _check_overlap(session: Session, volunteer_id: int, start: datetime, end: datetime) -> None:
    clash = session.exec(
        select(func.count())
        .select_from(ServiceRecord)
        .where(
            ServiceRecord.volunteer_id == volunteer_id, ServiceRecord.start < end, ServiceRecord.end > start
        )
    ).scalar_one()
    if clash:
        raise Invalid("vol.err.overlap")


def _new_record(
    session: Session,
    actor: Actor,
    *,
    volunteer_id: int,
    grid_id: int,
    skill: str,
    start: datetime,
    end: datetime,
    case_id: int | None,
    note: str,
    planned: bool,
    now: datetime,
) -> int:
    problems: list[Problem] = []
    if skill not in SKILLS:
        problems.append(Problem("vol.err.skill", {"skill": skill}))
    if end <= start:
        problems.append(Problem("vol.err.end_before_start"))
    elif (end - start).total_seconds() / 3600 > MAX_RECORD_HOURS:
        problems.append(Problem("vol.err.too_long", {"hours": MAX_RECORD_HOURS}))
    if not planned and end > now:
        problems.append(Problem("vol.err.future"))
    if planned and start < now - timedelta(minutes=5):
        problems.append(Problem("vol.err.plan_past"))
    if len(note) > 200:
        problems.append(Problem("vol.err.note_long"))
    if problems:
        raise Invalid(details=problems)
    volunteer = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if volunteer is None:
        raise NotFound("vol.err.not_found")
    if not volunteer.active:
        raise Invalid("vol.err.volunteer_inactive")
    # grid_filter is also the served-grid scope of service_record_filter for the recording roles.
    if _visible_grid(session, actor, grid_id) is None:
        raise NotPermitted("vol.err.grid_scope")
    _check_overlap(session, volunteer_id, start, end)
    record = ServiceRecord(
        volunteer_id=volunteer_id,
        grid_id=grid_id,
        case_id=case_id,
        skill=skill,
        start=start,
        end=end,
        hours=round((end - start).total_seconds() / 3600, 2),
        note=note.strip(),
        created_by=actor.id,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    return record.id


def record_service(
    session: Session,
    actor: Actor,
    *,
    volunteer_id: int,
    grid_id: int,
    skill: str,
    start: datetime,
    end: datetime,
    case_number: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """Record service that took place (unverified until a manager verifies it); returns the record id."""
    _require(actor, "volunteer.record_hours")
    now = now or clock.now()
    case_id = None
    if case_number and case_number.strip():
        found = _case_by_number(session, actor, case_number)
        if found is None:
            raise Invalid("vol.err.case_not_found", number=case_number.strip())
        case_id = found.id
    return _new_record(
        session,
        actor,
        volunteer_id=volunteer_id,
        grid_id=grid_id,
        skill=skill,
        start=start,
        end=end,
        case_id=case_id,
        note=note,
        planned=False,
        now=now,
    )


@dataclass(frozen=True)
class RecordQuery:
    """Filters of the service-record list."""

    verified: Literal["all", "unverified", "verified"] = "unverified"
    community_id: int | None = None
    grid_id: int | None = None
    volunteer_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


def _record_where(actor: Actor, q: RecordQuery) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [service_record_filter(actor)]
    if q.verified == "unverified":
        conds.append(ServiceRecord.verified_by.is_(None))
    elif q.verified == "verified":
        conds.append(ServiceRecord.verified_by.is_not(None))
    if q.community_id is not None:
        conds.append(Grid.community_id == q.community_id)
    if q.grid_id is not None:
        conds.append(ServiceRecord.grid_id == q.grid_id)
    if q.volunteer_id is not None:
        conds.append(ServiceRecord.volunteer_id == q.volunteer_id)
    if q.start is not None:
        conds.append(ServiceRecord.start >= q.start)
    if q.end is not None:
        conds.append(ServiceRecord.start < q.end)
    return conds


def list_service_records(
    session: Session,
    actor: Actor,
    q: RecordQuery,
    *,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> Page:
    """A page of service records in scope (newest first), volunteer names masked.

    Columns: id, volunteer_id, volunteer, grid_code, skill, start, end, hours, case_number, note, verified,
    planned (starts in the future).
    """
    now = now or clock.now()
    base = (
        select(ServiceRecord.id).join(Grid, Grid.id == ServiceRecord.grid_id).where(*_record_where(actor, q))
    )
    total = int(session.exec(select(func.count()).select_from(base.subquery())).scalar_one())
    page = _clamp_page(page, page_size, total)
    stmt = (
        select(
            ServiceRecord.id,
            ServiceRecord.volunteer_id,
            Volunteer.name,
            Grid.code,
            ServiceRecord.skill,
            ServiceRecord.start,
            ServiceRecord.end,
            ServiceRecord.hours,
            Case.number,
            ServiceRecord.note,
            ServiceRecord.verified_by.is_not(None),
        )
        .join(Grid, Grid.id == ServiceRecord.grid_id)
        .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
        .outerjoin(Case, Case.id == ServiceRecord.case_id)
        .where(*_record_where(actor, q))
        .order_by(ServiceRecord.start.desc(), ServiceRecord.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    df = pd.DataFrame(
        session.exec(stmt).all(),
        columns=[
            "id",
            "volunteer_id",
            "volunteer",
            "grid_code",
            "skill",
            "start",
            "end",
            "hours",
            "case_number",
            "note",
            "verified",
        ],
    )
    df["volunteer"] = df["volunteer"].map(mask_name)
    df["verified"] = df["verified"].astype(bool)
    df["start"] = pd.to_datetime(df["start"])
    df["end"] = pd.to_datetime(df["end"])
    df["planned"] = df["start"] > pd.Timestamp(now)
    return Page(df, total, page, page_size)


def verify_records(
    session: Session, actor: Actor, record_ids: Sequence[int], now: datetime | None = None
) -> int:
    """Verify unverified records that have ended (bulk); returns how many were verified. Audited."""
    _require(actor, "volunteer.verify_hours")
    now = now or clock.now()
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    result = session.exec(
        update(ServiceRecord)
        .where(
            ServiceRecord.id.in_(ids),
            ServiceRecord.verified_by.is_(None),
            ServiceRecord.end <= now,
            service_record_filter(actor),
        )
        .values(verified_by=actor.id, verified_at=now)
        .execution_options(synchronize_session=False)
    )
    done = int(result.rowcount or 0)
    audit.record(
        session,
        actor,
        "verify_service",
        target=f"service_records:{len(ids)}",
        detail=json.dumps({"requested": len(ids), "verified": done, "ids": ids[:200]}),
    )
    return done


def service_totals(
    session: Session,
    actor: Actor,
    by: TotalsBy,
    period: Period,
    *,
    verified_only: bool = True,
    limit: int | None = None,
) -> pd.DataFrame:
    """Hours per volunteer / grid (served) / community (served) / employer unit / month, most hours first
    (months in order). Columns: key, label, records, volunteers, hours. Volunteer names masked."""
    conds = [
        service_record_filter(actor),
        ServiceRecord.start >= period.start,
        ServiceRecord.start < period.end,
    ]
    if verified_only:
        conds.append(ServiceRecord.verified_by.is_not(None))
    hours = func.sum(ServiceRecord.hours).label("hours")
    records = func.count().label("records")
    people = func.count(func.distinct(ServiceRecord.volunteer_id)).label("volunteers")
    # (key, a, b): the group key and two label parts; the grouped columns are `group`.
    group: list[ColumnElement[Any]]
    if by == "volunteer":
        group = [ServiceRecord.volunteer_id, Volunteer.name, Grid.code]
        stmt = (
            select(*group, records, people, hours)
            .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
            .join(Grid, Grid.id == Volunteer.home_grid_id)
        )
    elif by == "grid":
        group = [ServiceRecord.grid_id, Grid.code, Grid.name]
        stmt = select(*group, records, people, hours).join(Grid, Grid.id == ServiceRecord.grid_id)
    elif by == "community":
        group = [Grid.community_id, Community.name, Community.code]
        stmt = (
            select(*group, records, people, hours)
            .join(Grid, Grid.id == ServiceRecord.grid_id)
            .join(Community, Community.id == Grid.community_id)
        )
    elif by == "employer":
        group = [Volunteer.employer_unit_id, ResidentUnit.name]
        stmt = (
            select(*group, literal(""), records, people, hours)
            .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
            .outerjoin(ResidentUnit, ResidentUnit.id == Volunteer.employer_unit_id)
        )
    elif by == "month":
        group = [extract("year", ServiceRecord.start), extract("month", ServiceRecord.start)]
        stmt = select(*group, literal(""), records, people, hours)
    else:
        raise ValueError(f"unknown grouping {by}")
    stmt = stmt.where(*conds).group_by(*group)
    stmt = stmt.order_by(*group) if by == "month" else stmt.order_by(hours.desc(), *group)
    if limit:
        stmt = stmt.limit(limit)
    rows = session.exec(stmt).all()
    df = pd.DataFrame(rows, columns=["key", "a", "b", "records", "volunteers", "hours"])
    if by == "volunteer":
        df["label"] = [f"{mask_name(n)} · {c}" for n, c in zip(df["a"], df["b"], strict=True)]
    elif by == "grid":
        df["label"] = [f"{c} {n}" for c, n in zip(df["a"], df["b"], strict=True)]
    elif by == "month":
        df["key"] = [f"{int(y):04d}-{int(m):02d}" for y, m in zip(df["key"], df["a"], strict=True)]
        df["label"] = df["key"]
    else:
        df["label"] = df["a"].fillna("")
    df["hours"] = df["hours"].astype(float).round(1)
    df["records"] = df["records"].astype(int)
    df["volunteers"] = df["volunteers"].astype(int)
    return df[["key", "label", "records", "volunteers", "hours"]]


def export_totals(
    session: Session,
    actor: Actor,
    by: TotalsBy,
    period: Period,
    *,
    fmt: Literal["csv", "xlsx"] = "csv",
    verified_only: bool = True,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Totals (names already masked) as CSV with BOM or Excel, formula-neutralised, audited as ``export``."""
    df = service_totals(session, actor, by, period, verified_only=verified_only).drop(columns=["key"])
    filters = {"by": by, "start": period.start, "end": period.end, "verified_only": verified_only}
    return exports.export_bytes(
        session, actor, f"service_totals:{by}", df.rename(columns=headers or {}), fmt, filters=filters
    )
