"""Volunteers (DESIGN §7): registry, service hours, the need/supply/coverage model and matching to cases.

Definitions, each in one place here:

- **Active** volunteer: the ``active`` flag is set AND (a service record started in the last
  :data:`ACTIVE_SERVICE_DAYS` days, not in the future, OR registered in the last :data:`NEW_VOLUNTEER_DAYS`
  days). A planned (future) service record does not make anyone active.
- **Need** per grid and skill = ``max(minimum, ceil(basis / per))`` (``per == 0``: the minimum only).
  ``basis`` is the sum of the named population fields of the grid, or for ``cases:CODE`` the number of that
  category's cases (not rejected, not merged duplicates) reported in the grid in the last ``window_days``.
  Several active rules for the same skill: the largest need wins (each rule is a lower bound).
- **Supply** per grid and skill = active volunteers with that skill whose home grid is the grid.
- **Coverage** of a cell = supply / need (None without need); totals cap each cell at its need:
  ``sum(min(supply, need)) / sum(need)``. **Gap** = need − supply when positive.

Need is a property of the grid, so the case counts behind it are limited by the grid scope
(`grid_filter`), not by `case_filter`: every role sees the same need for the same grid.

All errors meant for users carry an i18n key (``vol.err.*``) and format values; pages translate them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlmodel import Session

from dashboard import clock
from dashboard.admin import audit
from dashboard.cases import workflow
from dashboard.io import exports
from dashboard.kernel import privacy
from dashboard.kernel.privacy import mask_name, mask_phone
from dashboard.kernel.scope import (
    VOLUNTEER_PII_ROLES,
    Actor,
    ScopeError,
    case_filter,
    grid_filter,
    service_record_filter,
    volunteer_filter,
)
from dashboard.reporting.kpi import Period, not_duplicate
from dashboard.territory import geo
from models import (
    Case,
    CaseEvent,
    Category,
    Community,
    Grid,
    NeedRule,
    ResidentUnit,
    ServiceRecord,
    Volunteer,
    VolunteerSkill,
)
from models.enums import POPULATION_FIELDS, SKILLS, CaseStatus, PartyMemberKind, PoliticalStatus, Role

ACTIVE_SERVICE_DAYS = 90
"""A service record in this many days makes a volunteer active (DESIGN §7)."""
NEW_VOLUNTEER_DAYS = 30
"""A volunteer registered in this many days counts as active without service yet."""
LOAD_DAYS = 30
"""Matching: current load = hours served in this many days."""
RECENCY_DAYS = 365
"""Matching: last service looked up this far back (older service gives no reliability bonus)."""
MAX_RECORD_HOURS = 24.0
"""A single service record may not be longer than this."""

EDIT_ROLES = frozenset({Role.admin, Role.volunteer_manager})
"""Roles that add and edit volunteers (editing shows their personal data, so only PII roles)."""
RECORD_ROLES = frozenset({Role.admin, Role.volunteer_manager, Role.community})
"""Roles that record service (a community only in its own grids, for its own volunteers)."""
VERIFY_ROLES = frozenset({Role.admin, Role.volunteer_manager})
"""Roles that verify service records (the volunteer service station)."""
RULE_EDIT_ROLES = frozenset({Role.admin, Role.volunteer_manager})
"""Roles that change the need rules."""
MATCH_ROLES = frozenset({Role.admin, Role.operator, Role.community, Role.volunteer_manager})
"""Roles that propose and assign volunteers to cases."""

PHONE_RE = re.compile(r"1[3-9]\d{9}")
BASIS_FIELDS: tuple[str, ...] = ("households", "residents", *POPULATION_FIELDS)
"""Grid columns a need rule may name in its basis."""
CASES_PREFIX = "cases:"

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

Status = Literal["all", "active", "dormant", "inactive"]
TotalsBy = Literal["volunteer", "grid", "community", "employer", "month"]


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One validation problem: an i18n key, the values it formats, and the row of a table (or None)."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    row: int | None = None


class InvalidInput(ValueError):
    """Input that fails validation; `problems` say what, for the page to show translated."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.key for p in problems))
        self.problems = list(problems)


def _invalid(key: str, **values: Any) -> InvalidInput:
    return InvalidInput([Problem(key, values)])


def _require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role not in roles:
        raise ScopeError("vol.err.forbidden")


# ---------------------------------------------------------------- shared SQL pieces


def active_condition(now: datetime) -> ColumnElement[bool]:
    """SQL condition on `Volunteer`: active by the DESIGN §7 definition at `now`."""
    recent_service = exists().where(
        ServiceRecord.volunteer_id == Volunteer.id,
        ServiceRecord.start >= now - timedelta(days=ACTIVE_SERVICE_DAYS),
        ServiceRecord.start <= now,
    )
    return and_(
        Volunteer.active.is_(True),
        or_(Volunteer.registered_at >= now - timedelta(days=NEW_VOLUNTEER_DAYS), recent_service),
    )


def _has_skill(skills: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(VolunteerSkill.volunteer_id == Volunteer.id, VolunteerSkill.skill.in_(list(skills)))


def _skills_of(session: Session, volunteer_ids: Sequence[int]) -> dict[int, list[str]]:
    """Skills of a bounded list of volunteers (a page), in the order of :data:`SKILLS`."""
    if not volunteer_ids:
        return {}
    rows = session.exec(
        select(VolunteerSkill.volunteer_id, VolunteerSkill.skill).where(
            VolunteerSkill.volunteer_id.in_(list(volunteer_ids))
        )
    ).all()
    out: dict[int, list[str]] = {}
    order = {s: i for i, s in enumerate(SKILLS)}
    for vid, skill in rows:
        out.setdefault(vid, []).append(skill)
    for skills in out.values():
        skills.sort(key=lambda s: order.get(s, len(order)))
    return out


def _mask_row_pii(df: pd.DataFrame, unmask: bool) -> pd.DataFrame:
    if not unmask:
        if "name" in df:
            df["name"] = df["name"].map(mask_name)
        if "phone" in df:
            df["phone"] = df["phone"].map(mask_phone)
    return df


@dataclass
class Page:
    """One page of rows and the total number of matching rows."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def _clamp_page(page: int, page_size: int, total: int) -> int:
    pages = max(1, math.ceil(total / page_size))
    return min(max(1, page), pages)


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
        digits = re.sub(r"\D", "", text)
        by_name = Volunteer.name.contains(text, autoescape=True)
        if digits and len(digits) == len(text.replace(" ", "")):
            # Searching inside phone numbers would reveal masked digits: only PII roles may.
            by_phone = (
                Volunteer.phone.contains(digits, autoescape=True)
                if actor.role in VOLUNTEER_PII_ROLES
                else Volunteer.phone == digits
            )
            conds.append(or_(by_name, by_phone))
        else:
            conds.append(by_name)
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
        raise ScopeError("vol.err.forbidden")
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


def _skill_order(skill: str) -> int:
    return SKILLS.index(skill) if skill in SKILLS else len(SKILLS)


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


def normalise_phone(phone: str) -> str:
    """Strip spaces, dashes and a +86/0086 prefix."""
    digits = re.sub(r"[\s\-()]", "", phone or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits


def validate_volunteer(data: VolunteerInput, *, today_year: int | None = None) -> list[Problem]:
    """Field checks of a volunteer (no database): name, phone format, grid, skills, kinds, birth year."""
    problems: list[Problem] = []
    name = data.name.strip()
    if not name:
        problems.append(Problem("vol.err.name_required"))
    elif len(name) > 64:
        problems.append(Problem("vol.err.name_long"))
    if not PHONE_RE.fullmatch(normalise_phone(data.phone)):
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
    stmt = select(func.count()).select_from(Volunteer).where(Volunteer.phone == normalise_phone(phone))
    if exclude_id is not None:
        stmt = stmt.where(Volunteer.id != exclude_id)
    return bool(session.exec(stmt).scalar_one())


def volunteer_for_edit(session: Session, actor: Actor, volunteer_id: int) -> VolunteerInput:
    """The stored values of a volunteer for the edit form (unmasked: audited as ``view_pii``)."""
    _require(actor, EDIT_ROLES)
    row = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if row is None:
        raise ScopeError("vol.err.not_found")
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

    Raises :class:`InvalidInput` on bad fields, or with ``vol.err.phone_taken`` when another volunteer has the
    phone and `allow_duplicate_phone` is false (the page warns and asks to confirm). Audited.
    """
    _require(actor, EDIT_ROLES)
    now = now or clock.now()
    problems = validate_volunteer(data, today_year=now.year)
    if problems:
        raise InvalidInput(problems)
    grid = session.exec(
        select(Grid).where(Grid.id == data.home_grid_id, grid_filter(actor))
    ).scalar_one_or_none()
    if grid is None:
        raise _invalid("vol.err.grid_required")
    if data.employer_unit_id is not None and session.get(ResidentUnit, data.employer_unit_id) is None:
        raise _invalid("vol.err.employer")
    phone = normalise_phone(data.phone)
    if not allow_duplicate_phone and phone_taken(session, phone, volunteer_id):
        raise _invalid("vol.err.phone_taken")
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
            raise ScopeError("vol.err.not_found")
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
    _require(actor, EDIT_ROLES)
    result = session.exec(
        update(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor)).values(active=active)
    )
    if result.rowcount != 1:
        raise ScopeError("vol.err.not_found")
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


# ---------------------------------------------------------------- service records


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
        raise _invalid("vol.err.overlap")


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
        raise InvalidInput(problems)
    volunteer = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if volunteer is None:
        raise ScopeError("vol.err.not_found")
    if not volunteer.active:
        raise _invalid("vol.err.volunteer_inactive")
    # grid_filter is also the served-grid scope of service_record_filter for the recording roles.
    if _visible_grid(session, actor, grid_id) is None:
        raise ScopeError("vol.err.grid_scope")
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
    _require(actor, RECORD_ROLES)
    now = now or clock.now()
    case_id = None
    if case_number and case_number.strip():
        found = _case_by_number(session, actor, case_number)
        if found is None:
            raise _invalid("vol.err.case_not_found", number=case_number.strip())
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
    _require(actor, VERIFY_ROLES)
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


# ---------------------------------------------------------------- 在职党员双向报到


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


# ---------------------------------------------------------------- need rules


@dataclass(frozen=True)
class Basis:
    """A parsed rule basis: population fields to add up, or a case category code."""

    fields: tuple[str, ...] = ()
    category: str | None = None


def parse_basis(text: str) -> Basis:
    """``elderly_alone+elderly_solitary`` → fields; ``cases:DIS`` → category. Raises InvalidInput."""
    text = (text or "").strip()
    if text.lower().startswith(CASES_PREFIX):
        code = text[len(CASES_PREFIX) :].strip().upper()
        if not re.fullmatch(r"[A-Z0-9_]{1,8}", code):
            raise _invalid("vol.err.basis", basis=text)
        return Basis(category=code)
    parts = [p.strip() for p in text.split("+")]
    if not text or any(p not in BASIS_FIELDS for p in parts):
        raise _invalid("vol.err.basis", basis=text)
    if len(set(parts)) != len(parts):
        raise _invalid("vol.err.basis", basis=text)
    return Basis(fields=tuple(parts))


RULE_COLUMNS = ["id", "skill", "basis", "per", "minimum", "window_days", "active", "note"]


def need_rules(session: Session, *, active_only: bool = False) -> pd.DataFrame:
    """The need rules, by skill order then basis. Columns: :data:`RULE_COLUMNS` + updated_at."""
    stmt = select(NeedRule)
    if active_only:
        stmt = stmt.where(NeedRule.active.is_(True))
    rows = [r.model_dump() for r in session.exec(stmt).scalars().all()]
    df = pd.DataFrame(rows, columns=[*RULE_COLUMNS, "updated_at", "updated_by"])
    if df.empty:
        return df
    df["_o"] = df["skill"].map(_skill_order)
    return df.sort_values(["_o", "basis"]).drop(columns="_o").reset_index(drop=True)


def validate_need_rules(rows: Sequence[dict[str, Any]], category_codes: Sequence[str]) -> list[Problem]:
    """Check edited rules: known skill, parseable basis (known category), per ≥ 0, minimum a whole number
    ≥ 0, window 1–3650 days, (skill, basis) unique, and a rule that can ever need someone."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    codes = set(category_codes)
    for i, row in enumerate(rows):
        skill = row.get("skill")
        basis_text = str(row.get("basis") or "").strip()
        if skill not in SKILLS:
            problems.append(Problem("vol.err.skill", {"skill": skill or ""}, i))
        try:
            basis = parse_basis(basis_text)
            if basis.category is not None and basis.category not in codes:
                problems.append(Problem("vol.err.basis_category", {"code": basis.category}, i))
        except InvalidInput:
            problems.append(Problem("vol.err.basis", {"basis": basis_text}, i))
        per = _number(row.get("per"))
        if per is None or per < 0:
            problems.append(Problem("vol.err.per", {}, i))
        minimum = _number(row.get("minimum"))
        if minimum is None or minimum < 0 or minimum != int(minimum):
            problems.append(Problem("vol.err.minimum", {}, i))
        window = _number(row.get("window_days"))
        if window is None or not (1 <= window <= 3650) or window != int(window):
            problems.append(Problem("vol.err.window", {}, i))
        if per == 0 and minimum == 0:
            problems.append(Problem("vol.err.rule_empty", {}, i))
        key = (str(skill), basis_text.replace(" ", ""))
        if key in seen:
            problems.append(Problem("vol.err.rule_duplicate", {"skill": skill, "basis": basis_text}, i))
        seen[key] = i
    return problems


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RuleChanges:
    added: int
    updated: int
    removed: int


def save_need_rules(
    session: Session, actor: Actor, rows: Sequence[dict[str, Any]], now: datetime | None = None
) -> RuleChanges:
    """Replace the rule table with `rows` (the edited table): rows with a known id update, rows without one
    are added, stored rules missing from `rows` are deleted. Validated (InvalidInput), audited."""
    _require(actor, RULE_EDIT_ROLES)
    now = now or clock.now()
    codes = list(session.exec(select(Category.code)).scalars().all())
    problems = validate_need_rules(rows, codes)
    if problems:
        raise InvalidInput(problems)
    existing = {r.id: r for r in session.exec(select(NeedRule)).scalars().all()}
    kept: set[int] = set()
    added = updated = 0
    changes: list[dict[str, Any]] = []
    # Delete first so that a rule re-created under the same (skill, basis) does not hit the unique key.
    wanted_ids = {int(r["id"]) for r in rows if _number(r.get("id")) is not None and int(r["id"]) in existing}
    removed = [rid for rid in existing if rid not in wanted_ids]
    for rid in removed:
        rule = existing[rid]
        changes.append({"op": "delete", "id": rid, "skill": rule.skill, "basis": rule.basis})
        session.delete(rule)
    session.flush()
    for row in rows:
        values = {
            "skill": row["skill"],
            "basis": _canonical_basis(str(row["basis"])),
            "per": float(row["per"]),
            "minimum": int(float(row["minimum"])),
            "window_days": int(float(row["window_days"])),
            "active": bool(row.get("active", True)) if row.get("active") is not None else True,
            "note": str(row.get("note") or "")[:500],
        }
        rid = int(row["id"]) if _number(row.get("id")) is not None else None
        if rid is not None and rid in existing:
            kept.add(rid)
            rule = existing[rid]
            before = {k: getattr(rule, k) for k in values}
            if before != values:
                for k, v in values.items():
                    setattr(rule, k, v)
                rule.updated_at = now
                rule.updated_by = actor.id
                updated += 1
                changes.append({"op": "update", "id": rid, "before": before, "after": values})
        else:
            session.add(NeedRule(**values, updated_at=now, updated_by=actor.id))
            added += 1
            changes.append({"op": "add", **values})
    session.flush()
    result = RuleChanges(added, updated, len(removed))
    if added or updated or removed:
        audit.record(
            session,
            actor,
            "need_rules_change",
            target="need_rules",
            detail=json.dumps(changes, ensure_ascii=False, default=str)[:20000],
        )
    return result


def _canonical_basis(text: str) -> str:
    basis = parse_basis(text)
    return f"{CASES_PREFIX}{basis.category}" if basis.category else "+".join(basis.fields)


# ---------------------------------------------------------------- need, supply, coverage


def _grids_in_scope(session: Session, actor: Actor) -> pd.DataFrame:
    cols = [getattr(Grid, f) for f in BASIS_FIELDS]
    stmt = (
        select(Grid.id, Grid.code, Grid.name, Grid.community_id, Community.name, *cols)
        .join(Community, Community.id == Grid.community_id)
        .where(grid_filter(actor))
        .order_by(Grid.code)
    )
    return pd.DataFrame(
        session.exec(stmt).all(),
        columns=["grid_id", "code", "name", "community_id", "community", *BASIS_FIELDS],
    )


def _case_counts(
    session: Session, actor: Actor, pairs: set[tuple[str, int]], now: datetime
) -> dict[tuple[str, int], pd.Series]:
    """Cases per grid (in scope) for each (category code, window days): not rejected, not merged duplicates,
    reported in the window up to now. One scan of the longest window on (category_id, reported_at)."""
    empty = pd.Series(dtype="int64")
    out: dict[tuple[str, int], pd.Series] = dict.fromkeys(pairs, empty)
    codes = sorted({code for code, _ in pairs})
    ids = dict(session.exec(select(Category.code, Category.id).where(Category.code.in_(codes))).all())
    known = sorted((code, days) for code, days in pairs if code in ids)
    if not known:
        return out
    counts = [
        func.sum(
            case(
                (and_(Case.category_id == ids[code], Case.reported_at >= now - timedelta(days=days)), 1),
                else_=0,
            )
        )
        for code, days in known
    ]
    stmt = (
        select(Case.grid_id, *counts)
        .join(Grid, Grid.id == Case.grid_id)
        .where(
            Case.category_id.in_(sorted({ids[code] for code, _ in known})),
            Case.reported_at >= now - timedelta(days=max(days for _, days in known)),
            Case.reported_at <= now,
            not_duplicate(),
            Case.status != CaseStatus.rejected,
            grid_filter(actor),
        )
        .group_by(Case.grid_id)
    )
    rows = session.exec(stmt).all()
    for n, pair in enumerate(known, start=1):
        out[pair] = pd.Series({row[0]: int(row[n] or 0) for row in rows}, dtype="int64")
    return out


def need_by_grid_skill(
    session: Session, actor: Actor, now: datetime | None = None, grids: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Need per grid in scope and skill of every active rule. Columns: grid_id, skill, need, basis_value, rule.

    `rule` and `basis_value` are those of the rule giving the largest need for the skill.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor) if grids is None else grids
    rules = need_rules(session, active_only=True)
    frames: list[pd.DataFrame] = []
    parsed = [(rule, parse_basis(rule.basis)) for rule in rules.itertuples()]
    case_counts = _case_counts(
        session, actor, {(b.category, int(r.window_days)) for r, b in parsed if b.category}, now
    )
    for rule, basis in parsed:
        if basis.category:
            key = (basis.category, int(rule.window_days))
            value = grids["grid_id"].map(case_counts[key]).fillna(0).astype("int64")
        else:
            value = grids[list(basis.fields)].fillna(0).sum(axis=1).astype("int64")
        per = float(rule.per)
        if per > 0:
            need = np.maximum(
                int(rule.minimum), np.ceil(value.to_numpy(dtype=float) / per - 1e-9).astype("int64")
            )
        else:
            need = np.full(len(grids), int(rule.minimum), dtype="int64")
        frames.append(
            pd.DataFrame(
                {
                    "grid_id": grids["grid_id"].to_numpy(),
                    "skill": rule.skill,
                    "need": need,
                    "basis_value": value.to_numpy(),
                    "rule": rule.basis,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["grid_id", "skill", "need", "basis_value", "rule"]).astype(
            {"grid_id": "int64", "need": "int64", "basis_value": "int64"}
        )
    df = pd.concat(frames, ignore_index=True).sort_values(
        ["grid_id", "skill", "need"], ascending=[True, True, False]
    )
    return df.drop_duplicates(["grid_id", "skill"]).reset_index(drop=True)


def supply_by_grid_skill(session: Session, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Active volunteers per home grid (in scope) and skill, plus dormant ones (flag on, no recent service).

    Columns: grid_id, skill, supply, dormant. One GROUP BY query.
    """
    now = now or clock.now()
    act = active_condition(now)
    stmt = (
        select(
            Volunteer.home_grid_id,
            VolunteerSkill.skill,
            func.sum(case((act, 1), else_=0)),
            func.sum(case((and_(Volunteer.active.is_(True), not_(act)), 1), else_=0)),
        )
        .join(VolunteerSkill, VolunteerSkill.volunteer_id == Volunteer.id)
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .where(grid_filter(actor))
        .group_by(Volunteer.home_grid_id, VolunteerSkill.skill)
    )
    df = pd.DataFrame(session.exec(stmt).all(), columns=["grid_id", "skill", "supply", "dormant"])
    return df.astype({"grid_id": "int64", "supply": "int64", "dormant": "int64"})


def coverage_matrix(session: Session, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Grid × skill cells for the skills that have an active rule, every grid in scope.

    Columns: grid_id, code, name, community_id, community, skill, need, supply, dormant, gap, covered
    (min(supply, need)), coverage (supply / need, uncapped; NaN without need), basis_value, rule.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor)
    need = need_by_grid_skill(session, actor, now, grids)
    supply = supply_by_grid_skill(session, actor, now)
    df = need.merge(supply, on=["grid_id", "skill"], how="left")
    df[["supply", "dormant"]] = df[["supply", "dormant"]].fillna(0).astype("int64")
    df = df.merge(grids[["grid_id", "code", "name", "community_id", "community"]], on="grid_id", how="left")
    df["gap"] = (df["need"] - df["supply"]).clip(lower=0).astype("int64")
    df["covered"] = np.minimum(df["supply"], df["need"]).astype("int64")
    df["coverage"] = (df["supply"] / df["need"].where(df["need"] > 0)).astype("float64")
    cols = [
        "grid_id",
        "code",
        "name",
        "community_id",
        "community",
        "skill",
        "need",
        "supply",
        "dormant",
        "gap",
        "covered",
        "coverage",
        "basis_value",
        "rule",
    ]
    df["_o"] = df["skill"].map(_skill_order)
    return df.sort_values(["code", "_o"])[cols].reset_index(drop=True)


def _totals(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    out = df.groupby(by, sort=False, dropna=False).agg(
        need=("need", "sum"), supply=("supply", "sum"), covered=("covered", "sum"), gap=("gap", "sum")
    )
    out = out.astype("int64")
    out["coverage"] = (out["covered"] / out["need"].where(out["need"] > 0)).clip(upper=1.0).astype("float64")
    return out.reset_index()


def coverage_by_grid(
    session: Session, actor: Actor, now: datetime | None = None, cells: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per grid in scope: grid_id, need, supply, coverage — the figure the map shows.

    need and supply are summed over the skills with a rule; coverage = sum(min(supply, need)) / sum(need)
    per skill, at most 1.0; NaN (``pd.isna``) when the grid has no need. `cells`: the
    :func:`coverage_matrix` of the same actor and time, when the caller already has it.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor)
    cells = coverage_matrix(session, actor, now) if cells is None else cells
    if cells.empty:
        out = pd.DataFrame({"grid_id": grids["grid_id"].astype("int64"), "need": 0, "supply": 0})
        out["coverage"] = np.nan
        return out.astype({"need": "int64", "supply": "int64", "coverage": "float64"})
    totals = _totals(cells, ["grid_id"]).set_index("grid_id")
    out = grids[["grid_id"]].join(totals, on="grid_id")
    out[["need", "supply"]] = out[["need", "supply"]].fillna(0).astype("int64")
    return out[["grid_id", "need", "supply", "coverage"]].reset_index(drop=True)


def grid_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Per grid of the cells, lowest coverage first: grid_id, code, name, community_id, community, need,
    supply, covered, gap, coverage (capped, NaN without need)."""
    cols = [
        "grid_id",
        "code",
        "name",
        "community_id",
        "community",
        "need",
        "supply",
        "covered",
        "gap",
        "coverage",
    ]
    if cells.empty:
        return pd.DataFrame(columns=cols)
    out = _totals(cells, ["grid_id", "code", "name", "community_id", "community"])
    return out.sort_values(["coverage", "code"], na_position="last")[cols].reset_index(drop=True)


def coverage_by_community(
    session: Session, actor: Actor, now: datetime | None = None, cells: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per community in scope: community_id, community, grids, need, supply, covered, gap, coverage,
    grids_full (grids with every need met)."""
    cells = coverage_matrix(session, actor, now) if cells is None else cells
    cols = [
        "community_id",
        "community",
        "grids",
        "need",
        "supply",
        "covered",
        "gap",
        "coverage",
        "grids_full",
    ]
    if cells.empty:
        return pd.DataFrame(columns=cols)
    out = _totals(cells, ["community_id", "community"])
    per_grid = _totals(cells, ["community_id", "grid_id"])
    out = out.merge(
        per_grid.groupby("community_id")
        .agg(grids=("grid_id", "nunique"), grids_full=("gap", lambda g: int((g == 0).sum())))
        .reset_index(),
        on="community_id",
    )
    return out[cols]


def coverage_by_skill(cells: pd.DataFrame) -> pd.DataFrame:
    """Totals per skill over the given cells: skill, need, supply, covered, gap, coverage."""
    if cells.empty:
        return pd.DataFrame(columns=["skill", "need", "supply", "covered", "gap", "coverage"])
    out = _totals(cells, ["skill"])
    out["_o"] = out["skill"].map(_skill_order)
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def gap_list(cells: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Cells with a gap, biggest gap first, then lowest coverage, then grid code: where to recruit, which skill.

    ``dormant`` is how many registered volunteers with the skill in the grid could be re-engaged first.
    """
    gaps = cells[cells["gap"] > 0].copy()
    gaps["_cov"] = gaps["coverage"].fillna(0)
    gaps = gaps.sort_values(["gap", "_cov", "code", "skill"], ascending=[False, True, True, True])
    gaps = gaps.drop(columns="_cov").reset_index(drop=True)
    return gaps.head(limit) if limit else gaps


# ---------------------------------------------------------------- matching


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
    grid_id: int
    grid_code: str
    community_id: int
    status: str
    version: int
    skills: tuple[str, ...]
    assigned: tuple[int, ...]


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
    2. distance: 0 home grid, 1 a neighbouring grid (geo.neighbours), 2 same community, 3 elsewhere;
    3. current load: hours of service started in the last :data:`LOAD_DAYS` days, lower first;
    4. recency: latest service (within :data:`RECENCY_DAYS`), more recent first — served recently = reliable.

    Columns: volunteer_id, name (masked), phone (masked), grid_code, community, fit, distance, load_hours,
    last_service_at, skills (the matching ones).
    """
    _require(actor, MATCH_ROLES)
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
        "load_hours",
        "last_service_at",
        "skills",
    ]
    if not skills:
        return pd.DataFrame(columns=cols)
    target = session.exec(select(Grid.community_id).where(Grid.id == grid_id)).scalar_one_or_none()
    if target is None:
        raise _invalid("vol.err.grid_required")
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
    stmt = (
        select(
            Volunteer.id,
            Volunteer.name,
            Volunteer.phone,
            Grid.code,
            Community.name,
            fit.label("fit"),
            distance.label("distance"),
            load.label("load"),
            activity.c.last,
        )
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .join(Community, Community.id == Volunteer.community_id)
        .outerjoin(activity, activity.c.volunteer_id == Volunteer.id)
        .where(volunteer_filter(actor), Volunteer.active.is_(True), _has_skill(skills))
        .order_by(fit.desc(), distance, load, activity.c.last.desc().nulls_last(), Volunteer.id)
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
    _require(actor, MATCH_ROLES)
    now = now or clock.now()
    row = session.exec(select(Case).where(Case.id == case_id, case_filter(actor))).scalar_one_or_none()
    if row is None:
        raise ScopeError("vol.err.case_scope")
    try:
        workflow.next_status("assign_volunteer", CaseStatus(row.status))
    except ValueError as exc:
        raise _invalid("vol.err.case_closed") from exc
    volunteer = session.exec(
        select(Volunteer).where(Volunteer.id == volunteer_id, volunteer_filter(actor))
    ).scalar_one_or_none()
    if volunteer is None:
        raise ScopeError("vol.err.not_found")
    if not volunteer.active:
        raise _invalid("vol.err.volunteer_inactive")
    if skill not in SKILLS:
        raise _invalid("vol.err.skill", skill=skill)
    if volunteer_id in assigned_volunteers(session, case_id):
        raise _invalid("vol.err.already_assigned")
    bumped = session.exec(
        update(Case)
        .where(Case.id == case_id, Case.version == expected_version)
        .values(version=expected_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if bumped.rowcount != 1:
        raise _invalid("vol.err.stale")
    record_id = None
    if plan_start is not None:
        hours = float(plan_hours or 0)
        if hours <= 0:
            raise _invalid("vol.err.end_before_start")
        record_id = _new_record(
            session,
            actor,
            volunteer_id=volunteer_id,
            grid_id=row.grid_id,
            skill=skill,
            start=plan_start,
            end=plan_start + timedelta(hours=hours),
            case_id=case_id,
            note="",
            planned=True,
            now=now,
        )
    event = CaseEvent(
        case_id=case_id,
        at=now,
        actor_id=actor.id,
        action="assign_volunteer",
        from_status=row.status,
        to_status=row.status,
        note=f"{mask_name(volunteer.name)} · {skill}",
        payload=json.dumps(
            {"volunteer_id": volunteer_id, "skill": skill, "service_record_id": record_id}, ensure_ascii=False
        ),
    )
    session.add(event)
    session.flush()
    assert event.id is not None
    return event.id
