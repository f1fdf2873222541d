"""The volunteer registry (DESIGN §7): find, add, edit and deactivate volunteers, and reveal their personal
data (masked by default; unmasking and export are audited).

Lookups the volunteer forms need (grid and community by code, resident units) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select, update
from sqlmodel import Session

from dashboard import clock
from dashboard.io import exports
from dashboard.kernel import audit, privacy
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted, Problem
from dashboard.kernel.privacy import mask_name, mask_phone
from dashboard.kernel.scope import Actor, grid_filter, volunteer_filter
from dashboard.kernel.text import is_mobile, mobile_digits
from dashboard.volunteers.common import (
    ACTIVE_SERVICE_DAYS,
    Page,
    _clamp_page,
    _has_skill,
    _require,
    _skill_order,
    _skills_of,
    active_condition,
)
from models import Community, Grid, ResidentUnit, ServiceRecord, Volunteer, VolunteerSkill
from models.enums import SKILLS, PartyMemberKind, PoliticalStatus

Status = Literal["all", "active", "dormant", "inactive"]


# ---------------------------------------------------------------- lookups


def resident_units(session: Session) -> pd.DataFrame:
    """id, name of the resident units (驻区单位), by name."""
    rows = session.exec(select(ResidentUnit.id, ResidentUnit.name).order_by(ResidentUnit.name)).all()
    return pd.DataFrame(rows, columns=["id", "name"])


def grid_by_code(session: Session, actor: Actor, code: str) -> int | None:
    """Id of the grid with `code` if it is in the actor's scope."""
    return session.exec(
        select(Grid.id).where(Grid.code == code.strip(), grid_filter(actor))
    ).scalar_one_or_none()


def community_by_code(session: Session, code: str) -> int | None:
    """Id of the community with this code (or exact name)."""
    code = code.strip()
    return session.exec(
        select(Community.id).where(or_(Community.code == code, Community.name == code)).limit(1)
    ).scalar_one_or_none()


# ---------------------------------------------------------------- registry


def _mask_row_pii(df: pd.DataFrame, unmask: bool) -> pd.DataFrame:
    if not unmask:
        if "name" in df:
            df["name"] = df["name"].map(mask_name)
        if "phone" in df:
            df["phone"] = df["phone"].map(mask_phone)
    return df


@dataclass(frozen=True)
class VolunteerQuery:
    """Filters of the registry; hashable so pages can cache on it."""

    text: str = ""
    community_id: int | None = None
    grid_id: int | None = None
    skill: str | None = None
    party_kind: str | None = None
    employer_unit_id: int | None = None
    status: Status = "all"


def _registry_where(actor: Actor, q: VolunteerQuery, now: datetime) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [volunteer_filter(actor)]
    text = q.text.strip()
    if text:
        # Name and phone are masked for a role that may not reveal them: for it they match only whole.
        mode = privacy.searchable(actor, "volunteer")
        by_name = privacy.name_matches(Volunteer.name, text, mode)
        by_phone = privacy.phone_matches(Volunteer.phone, text, mode)
        conds.append(by_name if by_phone is None else or_(by_name, by_phone))
    if q.community_id is not None:
        conds.append(Volunteer.community_id == q.community_id)
    if q.grid_id is not None:
        conds.append(Volunteer.home_grid_id == q.grid_id)
    if q.skill:
        conds.append(_has_skill([q.skill]))
    if q.party_kind:
        conds.append(Volunteer.party_kind == q.party_kind)
    if q.employer_unit_id is not None:
        conds.append(Volunteer.employer_unit_id == q.employer_unit_id)
    active = active_condition(now)
    if q.status == "active":
        conds.append(active)
    elif q.status == "dormant":
        conds.append(and_(Volunteer.active.is_(True), not_(active)))
    elif q.status == "inactive":
        conds.append(Volunteer.active.is_(False))
    return conds


_REGISTRY_COLUMNS = [
    "id",
    "name",
    "phone",
    "gender",
    "birth_year",
    "grid_id",
    "grid_code",
    "grid_name",
    "community_id",
    "community_name",
    "political_status",
    "party_kind",
    "employer_unit",
    "registered_at",
    "active",
    "recently_active",
]


def _registry_select(actor: Actor, q: VolunteerQuery, now: datetime):  # type: ignore[no-untyped-def]
    return (
        select(
            Volunteer.id,
            Volunteer.name,
            Volunteer.phone,
            Volunteer.gender,
            Volunteer.birth_year,
            Volunteer.home_grid_id,
            Grid.code,
            Grid.name,
            Volunteer.community_id,
            Community.name,
            Volunteer.political_status,
            Volunteer.party_kind,
            ResidentUnit.name,
            Volunteer.registered_at,
            Volunteer.active,
            case((active_condition(now), True), else_=False),
        )
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .join(Community, Community.id == Volunteer.community_id)
        .outerjoin(ResidentUnit, ResidentUnit.id == Volunteer.employer_unit_id)
        .where(*_registry_where(actor, q, now))
    )


def count_volunteers(session: Session, actor: Actor, q: VolunteerQuery, now: datetime | None = None) -> int:
    now = now or clock.now()
    stmt = select(func.count()).select_from(Volunteer).where(*_registry_where(actor, q, now))
    return int(session.exec(stmt).scalar_one())


def list_volunteers(
    session: Session,
    actor: Actor,
    q: VolunteerQuery,
    *,
    page: int = 1,
    page_size: int = 50,
    unmask: bool = False,
    now: datetime | None = None,
) -> Page:
    """One page of the registry in the actor's scope, masked unless `unmask` (audited as ``view_pii``).

    Extra columns per row: skills (list), last_service_at, hours_90d (all records of the last 90 days).
    """
    if unmask and not privacy.can_reveal(actor, "volunteer"):
        raise NotPermitted("vol.err.forbidden")
    now = now or clock.now()
    total = count_volunteers(session, actor, q, now)
    page = _clamp_page(page, page_size, total)
    stmt = (
        _registry_select(actor, q, now)
        .order_by(Grid.code, Volunteer.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    df = pd.DataFrame(session.exec(stmt).all(), columns=_REGISTRY_COLUMNS)
    ids = [int(i) for i in df["id"]]
    skills = _skills_of(session, ids)
    df["skills"] = [skills.get(i, []) for i in ids]
    activity: dict[int, tuple[Any, float]] = {}
    if ids:
        rows = session.exec(
            select(
                ServiceRecord.volunteer_id,
                func.max(ServiceRecord.start),
                func.sum(
                    case(
                        (
                            ServiceRecord.start >= now - timedelta(days=ACTIVE_SERVICE_DAYS),
                            ServiceRecord.hours,
                        ),
                        else_=0.0,
                    )
                ),
            )
            .where(ServiceRecord.volunteer_id.in_(ids), ServiceRecord.start <= now)
            .group_by(ServiceRecord.volunteer_id)
        ).all()
        activity = {vid: (last, float(hours or 0)) for vid, last, hours in rows}
    df["last_service_at"] = pd.to_datetime(
        pd.Series([activity.get(i, (None, 0.0))[0] for i in ids], dtype=object)
    )
    df["hours_90d"] = [round(activity.get(i, (None, 0.0))[1], 1) for i in ids]
    df["registered_at"] = pd.to_datetime(df["registered_at"])
    df["active"] = df["active"].astype(bool)
    df["recently_active"] = df["recently_active"].astype(bool)
    _mask_row_pii(df, unmask)
    if unmask and ids:
        privacy.reveal(session, actor, "volunteer", f"volunteers:{','.join(map(str, ids))}"[:200])
    return Page(df, total, page, page_size)


def export_volunteers(
    session: Session,
    actor: Actor,
    q: VolunteerQuery,
    *,
    fmt: Literal["csv", "xlsx"] = "csv",
    unmasked: bool = False,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> bytes:
    """The whole filtered registry in the actor's scope as CSV (UTF-8 with BOM) or Excel, through
    :func:`exports.export_bytes`: masked unless an unmasked-export role asks, formula-neutralised, audited
    as ``export``. `headers` renames columns (translated headers)."""
    now = now or clock.now()
    stmt = _registry_select(actor, q, now).order_by(Grid.code, Volunteer.id)
    df = pd.DataFrame(session.exec(stmt).all(), columns=_REGISTRY_COLUMNS)
    skill_rows = session.exec(
        select(VolunteerSkill.volunteer_id, VolunteerSkill.skill)
        .join(Volunteer, Volunteer.id == VolunteerSkill.volunteer_id)
        .where(*_registry_where(actor, q, now))
    ).all()
    skills: dict[int, list[str]] = {}
    for vid, skill in skill_rows:
        skills.setdefault(vid, []).append(skill)
    df["skills"] = ["、".join(sorted(skills.get(int(i), []), key=_skill_order)) for i in df["id"]]
    names = headers or {}
    df = df.drop(columns=["grid_id", "community_id"]).rename(columns=names)
    pii = {names.get("name", "name"): "name", names.get("phone", "phone"): "phone"}
    filters = {k: v for k, v in q.__dict__.items() if v not in (None, "", "all")}
    return exports.export_bytes(session, actor, "volunteers", df, fmt, pii, unmasked, filters)


# ---------------------------------------------------------------- add / edit / deactivate


@dataclass
class VolunteerInput:
    """A volunteer as entered in the form."""

    name: str
    phone: str
    home_grid_id: int | None
    skills: list[str]
    gender: str = ""
    birth_year: int | None = None
    political_status: str = PoliticalStatus.masses.value
    party_kind: str = PartyMemberKind.none.value
    employer_unit_id: int | None = None
    active: bool = True


def validate_volunteer(data: VolunteerInput, *, today_year: int | None = None) -> list[Problem]:
    """Field checks of a volunteer (no database): name, phone format, grid, skills, kinds, birth year."""
    problems: list[Problem] = []
    name = data.name.strip()
    if not name:
        problems.append(Problem("vol.err.name_required"))
    elif len(name) > 64:
        problems.append(Problem("vol.err.name_long"))
    if not is_mobile(mobile_digits(data.phone)):
        problems.append(Problem("vol.err.phone"))
    if data.home_grid_id is None:
        problems.append(Problem("vol.err.grid_required"))
    unknown = [s for s in data.skills if s not in SKILLS]
    if unknown:
        problems.append(Problem("vol.err.skill", {"skill": "、".join(unknown)}))
    if not data.skills:
        problems.append(Problem("vol.err.skills_required"))
    if data.political_status not in {p.value for p in PoliticalStatus}:
        problems.append(Problem("vol.err.political"))
    if data.party_kind not in {p.value for p in PartyMemberKind}:
        problems.append(Problem("vol.err.party_kind"))
    elif data.party_kind != PartyMemberKind.none and data.political_status not in (
        PoliticalStatus.party_member,
        PoliticalStatus.probationary,
    ):
        problems.append(Problem("vol.err.party_kind_status"))
    year = today_year or clock.now().year
    if data.birth_year is not None and not (year - 100 <= data.birth_year <= year - 10):
        problems.append(Problem("vol.err.birth_year"))
    return problems


def phone_taken(session: Session, phone: str, exclude_id: int | None = None) -> bool:
    """True when another volunteer (any scope) already has this phone number."""
    stmt = select(func.count()).select_from(Volunteer).where(Volunteer.phone == mobile_digits(phone))
    if exclude_id is not None:
        stmt = stmt.where(Volunteer.id != exclude_id)
    return bool(session.exec(stmt).scalar_one())


def volunteer_for_edit(session: Session, actor: Actor, volunteer_id: int) -> VolunteerInput:
    """The stored values of a volunteer for the edit form (unmasked: audited as ``view_pii``)."""
    _require(actor, "volunteer.edit")
    row = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("vol.err.not_found")
    skills = _skills_of(session, [volunteer_id]).get(volunteer_id, [])
    privacy.reveal(session, actor, "volunteer", f"volunteer:{volunteer_id}")
    return VolunteerInput(
        name=row.name,
        phone=row.phone,
        home_grid_id=row.home_grid_id,
        skills=skills,
        gender=row.gender,
        birth_year=row.birth_year,
        political_status=str(row.political_status),
        party_kind=str(row.party_kind),
        employer_unit_id=row.employer_unit_id,
        active=row.active,
    )


def save_volunteer(
    session: Session,
    actor: Actor,
    data: VolunteerInput,
    volunteer_id: int | None = None,
    *,
    allow_duplicate_phone: bool = False,
    now: datetime | None = None,
) -> int:
    """Add (``volunteer_id`` None) or update a volunteer; returns its id.

    Raises :class:`Invalid` on bad fields, or with ``vol.err.phone_taken`` when another volunteer has the
    phone and `allow_duplicate_phone` is false (the page warns and asks to confirm). Audited.
    """
    _require(actor, "volunteer.edit")
    now = now or clock.now()
    problems = validate_volunteer(data, today_year=now.year)
    if problems:
        raise Invalid(details=problems)
    grid = session.exec(
        select(Grid).where(Grid.id == data.home_grid_id, grid_filter(actor))
    ).scalar_one_or_none()
    if grid is None:
        raise Invalid("vol.err.grid_required")
    if data.employer_unit_id is not None and session.get(ResidentUnit, data.employer_unit_id) is None:
        raise Invalid("vol.err.employer")
    phone = mobile_digits(data.phone)
    if not allow_duplicate_phone and phone_taken(session, phone, volunteer_id):
        raise Invalid("vol.err.phone_taken")
    if volunteer_id is None:
        row = Volunteer(
            name=data.name.strip(),
            phone=phone,
            home_grid_id=grid.id,
            community_id=grid.community_id,
            registered_at=now,
        )
        session.add(row)
    else:
        row = session.exec(
            select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("vol.err.not_found")
    row.name = data.name.strip()
    row.phone = phone
    row.gender = data.gender
    row.birth_year = data.birth_year
    row.home_grid_id = grid.id
    row.community_id = grid.community_id
    row.political_status = PoliticalStatus(data.political_status)
    row.party_kind = PartyMemberKind(data.party_kind)
    row.employer_unit_id = data.employer_unit_id
    row.active = data.active
    session.flush()
    assert row.id is not None
    current = set(_skills_of(session, [row.id]).get(row.id, []))
    wanted = set(data.skills)
    for skill in current - wanted:
        removed = session.get(VolunteerSkill, (row.id, skill))
        if removed is not None:
            session.delete(removed)
    for skill in wanted - current:
        session.add(VolunteerSkill(volunteer_id=row.id, skill=skill))
    audit.record(
        session,
        actor,
        "volunteer_change",
        target=f"volunteer:{row.id}",
        detail="create" if volunteer_id is None else "update",
    )
    session.flush()
    return row.id


def set_volunteer_active(session: Session, actor: Actor, volunteer_id: int, active: bool) -> None:
    """Deactivate (or reactivate) a volunteer; volunteers are never deleted (their hours stay). Audited."""
    _require(actor, "volunteer.edit")
    result = session.exec(
        update(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor)).values(active=active)
    )
    if result.rowcount != 1:
        raise NotFound("vol.err.not_found")
    audit.record(
        session,
        actor,
        "volunteer_change",
        target=f"volunteer:{volunteer_id}",
        detail="activate" if active else "deactivate",
    )


def pick_volunteers(
    session: Session,
    actor: Actor,
    text: str = "",
    *,
    grid_id: int | None = None,
    limit: int = 50,
    active_only: bool = True,
) -> pd.DataFrame:
    """A short list for a picker: id, label (masked name · grid code · phone's last 4), by grid and id."""
    q = VolunteerQuery(text=text, grid_id=grid_id)
    stmt = (
        select(Volunteer.id, Volunteer.name, Volunteer.phone, Grid.code)
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .where(*_registry_where(actor, q, clock.now()))
        .order_by(Grid.code, Volunteer.id)
        .limit(limit)
    )
    if active_only:
        stmt = stmt.where(Volunteer.active.is_(True))
    rows = session.exec(stmt).all()
    return pd.DataFrame(
        [(vid, f"#{vid} {mask_name(name)} · {code} · {phone[-4:]}") for vid, name, phone, code in rows],
        columns=["id", "label"],
    )
