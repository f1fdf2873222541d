"""在职党员双向报到: in-work Party members registered in their home community, and whether they served there.

A member counts as served in a period when a service record took place (started before now) in a grid of
the member's home community.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, case, func, select
from sqlmodel import Session

from dashboard import clock
from dashboard.kernel.privacy import mask_name
from dashboard.kernel.scope import Actor, volunteer_filter
from dashboard.reporting.kpi import Period
from dashboard.volunteers.common import Page, _clamp_page
from models import Community, Grid, ResidentUnit, ServiceRecord, Volunteer
from models.enums import PartyMemberKind


def _home_service(period: Period, now: datetime):  # type: ignore[no-untyped-def]
    """Per volunteer: records and hours served in their *home community* in the period (up to now)."""
    return (
        select(
            ServiceRecord.volunteer_id.label("volunteer_id"),
            func.count().label("records"),
            func.sum(ServiceRecord.hours).label("hours"),
        )
        .join(Grid, Grid.id == ServiceRecord.grid_id)
        .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
        .where(
            Grid.community_id == Volunteer.community_id,
            ServiceRecord.start >= period.start,
            ServiceRecord.start < min(period.end, now),
        )
        .group_by(ServiceRecord.volunteer_id)
        .subquery()
    )


def _in_work_members(actor: Actor) -> list[ColumnElement[bool]]:
    return [
        volunteer_filter(actor),
        Volunteer.active.is_(True),
        Volunteer.party_kind == PartyMemberKind.in_work,
    ]


def report_in_summary(
    session: Session, actor: Actor, period: Period, now: datetime | None = None
) -> pd.DataFrame:
    """双向报到 per community: registered in-work Party members, how many served at home in the period.

    Columns: community_id, community, registered, served, not_served, rate (None without members).
    A record counts when it took place (started before now) in a grid of the member's home community.
    """
    now = now or clock.now()
    served = _home_service(period, now)
    stmt = (
        select(
            Volunteer.community_id,
            Community.name,
            func.count(),
            func.sum(case((served.c.records.is_not(None), 1), else_=0)),
        )
        .join(Community, Community.id == Volunteer.community_id)
        .outerjoin(served, served.c.volunteer_id == Volunteer.id)
        .where(*_in_work_members(actor))
        .group_by(Volunteer.community_id, Community.name, Community.code)
        .order_by(Community.code)
    )
    df = pd.DataFrame(session.exec(stmt).all(), columns=["community_id", "community", "registered", "served"])
    df["registered"] = df["registered"].astype(int)
    df["served"] = df["served"].fillna(0).astype(int)
    df["not_served"] = df["registered"] - df["served"]
    df["rate"] = (df["served"] / df["registered"].where(df["registered"] > 0)).astype(float)
    return df


def report_in_members(
    session: Session,
    actor: Actor,
    period: Period,
    *,
    served: bool | None = None,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> Page:
    """双向报到 per member (masked): id, name, community, grid_code, employer_unit, records, hours, served."""
    now = now or clock.now()
    home = _home_service(period, now)
    conds = _in_work_members(actor)
    if served is True:
        conds.append(home.c.records.is_not(None))
    elif served is False:
        conds.append(home.c.records.is_(None))
    base = select(Volunteer.id).outerjoin(home, home.c.volunteer_id == Volunteer.id).where(*conds)
    total = int(session.exec(select(func.count()).select_from(base.subquery())).scalar_one())
    page = _clamp_page(page, page_size, total)
    stmt = (
        select(
            Volunteer.id,
            Volunteer.name,
            Community.name,
            Grid.code,
            ResidentUnit.name,
            func.coalesce(home.c.records, 0),
            func.coalesce(home.c.hours, 0.0),
        )
        .join(Community, Community.id == Volunteer.community_id)
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .outerjoin(ResidentUnit, ResidentUnit.id == Volunteer.employer_unit_id)
        .outerjoin(home, home.c.volunteer_id == Volunteer.id)
        .where(*conds)
        .order_by(Community.code, Grid.code, Volunteer.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    df = pd.DataFrame(
        session.exec(stmt).all(),
        columns=["id", "name", "community", "grid_code", "employer_unit", "records", "hours"],
    )
    df["name"] = df["name"].map(mask_name)
    df["records"] = df["records"].astype(int)
    df["hours"] = df["hours"].astype(float).round(1)
    df["served"] = df["records"] > 0
    return Page(df, total, page, page_size)
