"""Matching volunteers to cases: the skills a case category needs, ranked candidates, and assignment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import workflow
from dashboard.cases.change import change_case
from dashboard.cases.errors import StaleCase
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.privacy import mask_name, mask_phone
from dashboard.kernel.scope import Actor, case_filter, volunteer_filter
from dashboard.territory import geo
from dashboard.volunteers.common import _has_skill, _require, _skills_of
from dashboard.volunteers.hours import _new_record
from models import Case, CaseEvent, Category, Community, Grid, ServiceRecord, Volunteer
from models.enums import SKILLS, CaseStatus

LOAD_DAYS = 30
"""Matching: current load = hours served in this many days."""
RECENCY_DAYS = 365
"""Matching: last service looked up this far back (older service gives no reliability bonus)."""
ACTIVITY_DAYS = (30, 90, 180)
"""Matching: activity tiers by the last service: within 30 days (0), 90 days (1), 180 days or newly
registered (2); dormant beyond that or never served (3)."""
ACTIVITY_POINTS = (2, 1, 0, -1)
"""Matching: score points of each activity tier, added to the proximity points (3 home grid … 0 elsewhere)."""

CATEGORY_SKILLS: dict[str, tuple[str, ...]] = {
    "ELD": ("助老探访", "数字助老", "家政便民", "入户走访"),
    "DSB": ("助残", "家政便民", "入户走访"),
    "CHD": ("儿童关爱", "心理疏导"),
    "AID": ("帮贫济困", "入户走访", "家政便民"),
    "DIS": ("矛盾调解", "法律咨询", "心理疏导"),
    "LEG": ("法律咨询", "矛盾调解"),
    "HLT": ("义诊", "急救", "疫情防控"),
    "EMG": ("应急救援", "急救"),
    "SAF": ("应急救援", "治安巡逻"),
    "SEC": ("治安巡逻",),
    "ENV": ("环境整治",),
    "EMP": ("就业指导",),
    "FLT": ("入户走访", "政策宣传"),
    "PTY": ("政策宣传", "入户走访"),
    "SUG": ("政策宣传",),
    "INF": ("家政便民", "环境整治"),
    "PRP": ("矛盾调解", "环境整治"),
}
"""Skills that help with a case category, most fitting first (matching: first = full fit)."""


def skills_for_category(code: str | None) -> tuple[str, ...]:
    """The skills that help with a case category (most fitting first); empty when none is known."""
    return CATEGORY_SKILLS.get((code or "").upper(), ())


def grid_neighbours(session: Session, grid_id: int) -> set[int]:
    """Grids sharing an edge with `grid_id` (geometry of all grids: ~100 polygons, a few milliseconds)."""
    rows = session.exec(select(Grid.id, Grid.polygon)).all()
    try:
        return geo.neighbours([(gid, poly) for gid, poly in rows]).get(grid_id, set())
    except (ValueError, TypeError):  # an unreadable polygon: fall back to the community tier
        return set()


@dataclass(frozen=True)
class CaseForMatching:
    """What the matching page needs of a case (no personal data)."""

    id: int
    number: str
    title: str
    category_code: str
    category_zh: str
    category_en: str
    grid_id: int
    grid_code: str
    community_id: int
    status: str
    version: int
    skills: tuple[str, ...]
    assigned: tuple[int, ...]

    @property
    def assignable(self) -> bool:
        """Whether volunteers may still be assigned: the case is open (not closed or rejected)."""
        try:
            workflow.next_status("assign_volunteer", CaseStatus(self.status))
        except ValueError:
            return False
        return True


def sees_cases(session: Session, actor: Actor) -> bool:
    """Whether any case is in the actor's scope (matching from a case needs one)."""
    return session.exec(select(Case.id).where(case_filter(actor)).limit(1)).first() is not None


def case_for_matching(session: Session, actor: Actor, number: str) -> CaseForMatching | None:
    """The case with this number if it is in the actor's scope (case_filter), with the volunteers already
    assigned to it (from its ``assign_volunteer`` events)."""
    row = session.exec(
        select(
            Case.id,
            Case.number,
            Case.title,
            Category.code,
            Case.grid_id,
            Grid.code,
            Case.community_id,
            Case.status,
            Case.version,
            Category.name_zh,
            Category.name_en,
        )
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .where(Case.number == number.strip(), case_filter(actor))
    ).first()
    if row is None:
        return None
    return CaseForMatching(
        id=row[0],
        number=row[1],
        title=row[2],
        category_code=row[3],
        category_zh=row[9],
        category_en=row[10],
        grid_id=row[4],
        grid_code=row[5],
        community_id=row[6],
        status=str(row[7]),
        version=row[8],
        skills=skills_for_category(row[3]),
        assigned=tuple(assigned_volunteers(session, row[0])),
    )


def assigned_volunteers(session: Session, case_id: int) -> list[int]:
    """Volunteer ids of a case's ``assign_volunteer`` events, in order (one case's events only)."""
    payloads = (
        session.exec(
            select(CaseEvent.payload)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == "assign_volunteer")
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        .scalars()
        .all()
    )
    out: list[int] = []
    for text in payloads:
        try:
            vid = json.loads(text or "{}").get("volunteer_id")
        except (ValueError, AttributeError):
            continue
        if isinstance(vid, int) and vid not in out:
            out.append(vid)
    return out


def match_volunteers(
    session: Session,
    actor: Actor,
    *,
    grid_id: int,
    skills: Sequence[str],
    exclude: Sequence[int] = (),
    limit: int = 20,
    neighbours: set[int] | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Volunteers (active flag, in scope) with one of `skills`, ranked in SQL by

    1. skill fit: 2 with the first (most fitting) skill, 1 with another of `skills`;
    2. score: proximity (3 home grid, 2 a neighbouring grid (geo.neighbours), 1 same community, 0 elsewhere)
       plus activity (:data:`ACTIVITY_POINTS` of the tier of the last service, :data:`ACTIVITY_DAYS`): a
       dormant volunteer ranks below an active one at the same distance, and below an active neighbour;
    3. current load: hours of service started in the last :data:`LOAD_DAYS` days, lower first;
    4. recency: latest service (within :data:`RECENCY_DAYS`), more recent first — served recently = reliable.

    Columns: volunteer_id, name (masked), phone (masked), grid_code, community, fit, distance, activity
    (the tier), load_hours, last_service_at, skills (the matching ones).
    """
    _require(actor, "volunteer.match")
    now = now or clock.now()
    skills = [s for s in skills if s in SKILLS]
    cols = [
        "volunteer_id",
        "name",
        "phone",
        "grid_code",
        "community",
        "fit",
        "distance",
        "activity",
        "load_hours",
        "last_service_at",
        "skills",
    ]
    if not skills:
        return pd.DataFrame(columns=cols)
    target = session.exec(select(Grid.community_id).where(Grid.id == grid_id)).scalar_one_or_none()
    if target is None:
        raise Invalid("vol.err.grid_required")
    near = grid_neighbours(session, grid_id) if neighbours is None else neighbours
    fit = case((_has_skill(skills[:1]), 2), else_=1)
    distance = case(
        (Volunteer.home_grid_id == grid_id, 0),
        (Volunteer.home_grid_id.in_(sorted(near) or [-1]), 1),
        (Volunteer.community_id == target, 2),
        else_=3,
    )
    activity = (
        select(
            ServiceRecord.volunteer_id.label("volunteer_id"),
            func.sum(
                case((ServiceRecord.start >= now - timedelta(days=LOAD_DAYS), ServiceRecord.hours), else_=0.0)
            ).label("load"),
            func.max(ServiceRecord.start).label("last"),
        )
        .where(ServiceRecord.start >= now - timedelta(days=RECENCY_DAYS), ServiceRecord.start <= now)
        .group_by(ServiceRecord.volunteer_id)
        .subquery()
    )
    load = func.coalesce(activity.c.load, 0.0)
    recent, lately, half_year = (now - timedelta(days=d) for d in ACTIVITY_DAYS)
    tier = case(
        (activity.c.last >= recent, 0),
        (activity.c.last >= lately, 1),
        (or_(activity.c.last >= half_year, Volunteer.registered_at >= recent), 2),
        else_=3,
    )
    points = case(*((tier == i, p) for i, p in enumerate(ACTIVITY_POINTS[:-1])), else_=ACTIVITY_POINTS[-1])
    score = 3 - distance + points
    stmt = (
        select(
            Volunteer.id,
            Volunteer.name,
            Volunteer.phone,
            Grid.code,
            Community.name,
            fit.label("fit"),
            distance.label("distance"),
            tier.label("activity"),
            load.label("load"),
            activity.c.last,
        )
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .join(Community, Community.id == Volunteer.community_id)
        .outerjoin(activity, activity.c.volunteer_id == Volunteer.id)
        .where(volunteer_filter(actor), Volunteer.active.is_(True), _has_skill(skills))
        .order_by(fit.desc(), score.desc(), load, activity.c.last.desc().nulls_last(), Volunteer.id)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(Volunteer.id.not_in(list(exclude)))
    df = pd.DataFrame(session.exec(stmt).all(), columns=cols[:-1])
    own = _skills_of(session, [int(i) for i in df["volunteer_id"]])
    df["skills"] = [[s for s in own.get(int(i), []) if s in skills] for i in df["volunteer_id"]]
    df["name"] = df["name"].map(mask_name)
    df["phone"] = df["phone"].map(mask_phone)
    df["fit"] = df["fit"].astype(int)
    df["distance"] = df["distance"].astype(int)
    df["activity"] = df["activity"].astype(int)
    df["load_hours"] = df["load_hours"].astype(float).round(1)
    df["last_service_at"] = pd.to_datetime(df["last_service_at"])
    return df


def assign_volunteer(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    volunteer_id: int,
    skill: str,
    expected_version: int,
    plan_start: datetime | None = None,
    plan_hours: float | None = None,
    now: datetime | None = None,
) -> int:
    """Assign a volunteer to a case: one ``assign_volunteer`` case event (volunteer id in the payload, masked
    name in the note), the case's version bumped (optimistic lock), and optionally a planned (future,
    unverified) service record linked to the case. Returns the event id."""
    _require(actor, "volunteer.match")
    row = session.exec(select(Case).where(Case.id == case_id, case_filter(actor))).scalar_one_or_none()
    if row is None:
        raise NotFound("vol.err.case_scope")
    try:
        workflow.next_status("assign_volunteer", CaseStatus(row.status))
    except ValueError as exc:
        raise Invalid("vol.err.case_closed") from exc
    volunteer = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if volunteer is None:
        raise NotFound("vol.err.not_found")
    if not volunteer.active:
        raise Invalid("vol.err.volunteer_inactive")
    if skill not in SKILLS:
        raise Invalid("vol.err.skill", skill=skill)
    if volunteer_id in assigned_volunteers(session, case_id):
        raise Invalid("vol.err.already_assigned")
    planned = None
    if plan_start is not None:
        hours = float(plan_hours or 0)
        if hours <= 0:
            raise Invalid("vol.err.end_before_start")
        planned = (plan_start, plan_start + timedelta(hours=hours))
    note = f"{mask_name(volunteer.name)} · {skill}"

    def change(case: Case, _state: object, at: datetime) -> tuple[dict[str, object], dict[str, object]]:
        record_id = None
        if planned is not None:
            record_id = _new_record(
                session,
                actor,
                volunteer_id=volunteer_id,
                grid_id=case.grid_id,
                skill=skill,
                start=planned[0],
                end=planned[1],
                case_id=case_id,
                note="",
                planned=True,
                now=now or at,
            )
        return {}, {"volunteer_id": volunteer_id, "skill": skill, "service_record_id": record_id}

    try:
        ref = change_case(session, actor, case_id, expected_version, "assign_volunteer", note, change)
    except StaleCase as exc:
        raise Conflict("vol.err.stale") from exc
    assert ref.event_id is not None
    return ref.event_id
