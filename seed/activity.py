"""Volunteers with their skills, volunteer service records and grid workers' visits (走访).

Coverage is made uneven on purpose: each grid has an engagement level (a few grids strong, a few with
hardly any volunteers), some volunteers are inactive or dormant (no service for months; in-work Party
members more often than others), and the blind-spot grids get no visit after they went quiet.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from itertools import accumulate

from models.enums import SKILLS, PartyMemberKind, PoliticalStatus
from seed import names, texts
from seed.cases import ServiceLink, VisitLink
from seed.reference import SKILL_WEIGHTS
from seed.world import GridInfo, VolunteerInfo, World

VOLUNTEER_COLUMNS = (
    "id",
    "name",
    "phone",
    "gender",
    "birth_year",
    "home_grid_id",
    "community_id",
    "political_status",
    "party_kind",
    "employer_unit_id",
    "registered_at",
    "active",
    "external_id",
)
SKILL_COLUMNS = ("volunteer_id", "skill")
SERVICE_COLUMNS = (
    "id",
    "volunteer_id",
    "grid_id",
    "case_id",
    "skill",
    "start",
    "end",
    "hours",
    "note",
    "created_by",
    "verified_by",
    "verified_at",
    "external_id",
)
VISIT_COLUMNS = (
    "id",
    "worker_id",
    "grid_id",
    "building_id",
    "households_visited",
    "at",
    "met",
    "groups",
    "note",
    "case_id",
)

_KIND_ENGAGEMENT = {"urban": 1.5, "suburban": 0.9, "farm": 0.6}
_UNIT_KIND_WEIGHT = {
    "government": 3.0,
    "school": 2.0,
    "hospital": 2.0,
    "bank": 1.5,
    "institution": 1.5,
    "enterprise": 1.0,
}
_RETIRED_SKILLS = {
    "助老探访": 1.3,
    "文体活动": 1.6,
    "矛盾调解": 1.6,
    "政策宣传": 1.3,
    "治安巡逻": 1.3,
    "数字助老": 0.3,
    "就业指导": 0.4,
    "应急救援": 0.5,
}
_YOUNG_SKILLS = {
    "数字助老": 2.5,
    "儿童关爱": 1.6,
    "环境整治": 1.2,
    "应急救援": 1.5,
    "文体活动": 0.8,
    "矛盾调解": 0.3,
    "助老探访": 0.8,
}
_UNIT_SKILLS = {
    "hospital": {"义诊": 12.0, "急救": 5.0, "心理疏导": 3.0},
    "school": {"儿童关爱": 3.0, "心理疏导": 2.0},
    "government": {"法律咨询": 3.0, "政策宣传": 1.5, "矛盾调解": 1.5},
    "bank": {"政策宣传": 1.5},
}
_SERVICE_HOURS = (
    *(0, 0, 0, 0, 0, 0),  # 00–05
    *(0, 1.0, 4.0, 6.0, 4.0, 1.0),  # 06–11
    *(0, 0.5, 3.0, 4.0, 3.0, 1.0),  # 12–17
    *(0.5, 2.0, 1.0, 0, 0, 0),  # 18–23
)
_VISIT_HOURS = (
    *(0, 0, 0, 0, 0, 0),  # 00–05
    *(0, 0, 2.0, 6.0, 6.0, 3.0),  # 06–11
    *(0, 0.5, 3.0, 6.0, 5.0, 3.0),  # 12–17
    *(1.0, 0.5, 0, 0, 0, 0),  # 18–23
)
_VISIT_GROUPS = (
    "elderly_alone",
    "elderly_solitary",
    "disabled",
    "low_income",
    "left_behind_children",
    "floating",
    "special_care",
    "unemployed",
    "elderly_60",
    "party_members",
)


def _cum(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(accumulate(weights))


def _skill_sample(rng: random.Random, k: int, weights: dict[str, float]) -> list[str]:
    pool = dict(weights)
    out: list[str] = []
    for _ in range(k):
        keys = sorted(pool)
        pick = rng.choices(keys, cum_weights=_cum([pool[s] for s in keys]))[0]
        out.append(pick)
        del pool[pick]
    return sorted(out, key=SKILLS.index)


def _engagement(world: World, rng: random.Random) -> list[float]:
    """Volunteer-attraction weight of every grid: households, kind, a random level, a few strong and weak."""
    weights = [
        g.households * _KIND_ENGAGEMENT.get(g.kind, 1.0) * rng.lognormvariate(0.0, 0.5) for g in world.grids
    ]
    order = list(range(len(world.grids)))
    rng.shuffle(order)
    for i in order[:6]:
        weights[i] *= 2.2  # well organised volunteer teams
    for i in order[6:14]:
        weights[i] *= 0.12  # clear gaps
    for g in world.grids:
        if g.quiet_from is not None:
            weights[g.index] *= 0.3
    return weights


def _party_member(
    rng: random.Random, units: list[tuple[int, str]], unit_cum: list[float]
) -> tuple[PoliticalStatus, PartyMemberKind, int, tuple[int, str] | None]:
    """Status, kind, birth year and (in work) employer unit of a volunteer who is a Party member."""
    unit: tuple[int, str] | None = None
    status = PoliticalStatus.party_member if rng.random() < 0.92 else PoliticalStatus.probationary
    kind = rng.choices(
        (PartyMemberKind.in_work, PartyMemberKind.retired, PartyMemberKind.floating), (0.5, 0.4, 0.1)
    )[0]
    if kind == PartyMemberKind.retired:
        birth_year = rng.randint(1940, 1965)
    elif kind == PartyMemberKind.in_work:
        birth_year = int(rng.triangular(1966, 2001, 1982))
        unit = units[rng.choices(range(len(units)), cum_weights=unit_cum)[0]]
    else:
        birth_year = rng.randint(1975, 2000)
    if status == PoliticalStatus.probationary:
        birth_year = max(birth_year, 1985)
    return status, kind, birth_year, unit


def _non_member(rng: random.Random) -> tuple[PoliticalStatus, int]:
    """Status and birth year of a volunteer who is not a Party member."""
    r = rng.random()
    birth_year = (
        rng.randint(1942, 1965)
        if r < 0.45
        else (rng.randint(1966, 2000) if r < 0.9 else rng.randint(2001, 2007))
    )
    status = (
        PoliticalStatus.league_member if birth_year >= 1996 and rng.random() < 0.6 else PoliticalStatus.masses
    )
    return status, birth_year


def _new_phone(rng: random.Random, taken: set[str]) -> str:
    """A mobile number not in `taken` (added to it)."""
    phone = names.mobile(rng)
    while phone in taken:
        phone = names.mobile(rng)
    taken.add(phone)
    return phone


def _registration(rng: random.Random, now: datetime) -> tuple[datetime, float]:
    """When a volunteer registered (over five years, a few in the last month) and how many days ago."""
    if rng.random() < 0.04:
        days_ago = rng.uniform(1, 30)
    else:
        days_ago = 5 * 365 * rng.random() ** 1.3
    registered_at = (now - timedelta(days=days_ago)).replace(
        hour=rng.randint(8, 17), minute=rng.randrange(60), second=rng.randrange(60)
    )
    return min(registered_at, now - timedelta(minutes=10)), days_ago


def _activity_state(
    rng: random.Random, now: datetime, kind: PartyMemberKind, days_ago: float
) -> tuple[bool, datetime | None]:
    """Whether a volunteer is active, and since when an inactive or dormant one has done no service."""
    active = rng.random() < 0.93
    dormant = rng.random() < (0.4 if kind == PartyMemberKind.in_work else 0.25)
    idle_from: datetime | None = None
    if not active:
        idle_from = now - timedelta(days=rng.uniform(100, 600))
    elif dormant and days_ago > 120:
        idle_from = now - timedelta(days=rng.uniform(92, min(330.0, days_ago)))
    return active, idle_from


def _volunteer_skills(rng: random.Random, birth_year: int, unit: tuple[int, str] | None) -> list[str]:
    """One to four skills, weighted by age and by the kind of the employer unit."""
    weights = dict(SKILL_WEIGHTS)
    tweak = _RETIRED_SKILLS if birth_year < 1962 else (_YOUNG_SKILLS if birth_year >= 1990 else {})
    for s, f in tweak.items():
        weights[s] *= f
    if unit is not None:
        for s, f in _UNIT_SKILLS.get(unit[1], {}).items():
            weights[s] *= f
    return _skill_sample(rng, rng.choices((1, 2, 3, 4), (0.28, 0.36, 0.26, 0.10))[0], weights)


def make_volunteers(
    world: World, rng: random.Random, n: int, units: list[tuple[int, str]]
) -> tuple[list[tuple], list[tuple]]:
    """Volunteer and volunteer-skill rows; also fills ``world.volunteers`` for the case and service steps."""
    now = world.now
    grid_cum = _cum(_engagement(world, rng))
    unit_cum = _cum([_UNIT_KIND_WEIGHT.get(kind, 1.0) for _, kind in units])
    phones: set[str] = set()
    rows: list[tuple] = []
    skill_rows: list[tuple] = []
    for vid in range(1, n + 1):
        g = world.grids[rng.choices(range(len(world.grids)), cum_weights=grid_cum)[0]]
        if rng.random() < 0.35:
            status, kind, birth_year, unit = _party_member(rng, units, unit_cum)
        else:
            status, birth_year = _non_member(rng)
            kind, unit = PartyMemberKind.none, None
        gender = "女" if rng.random() < (0.64 if birth_year < 1966 else 0.55) else "男"
        name = names.person_name(rng, gender, birth_year)
        phone = _new_phone(rng, phones)
        registered_at, days_ago = _registration(rng, now)
        active, idle_from = _activity_state(rng, now, kind, days_ago)
        skills = _volunteer_skills(rng, birth_year, unit)
        rows.append(
            (
                vid,
                name,
                phone,
                gender,
                birth_year,
                g.id,
                g.community_id,
                status.value,
                kind.value,
                unit[0] if unit else None,
                registered_at,
                active,
                None,
            )
        )
        skill_rows.extend((vid, s) for s in skills)
        activity = rng.lognormvariate(0.0, 0.7) * (1.4 if birth_year < 1962 else 1.0)
        info = VolunteerInfo(vid, name, g.index, skills, registered_at, idle_from, activity)
        world.volunteers.append(info)
        if active:
            for s in skills:
                world.volunteers_by_grid_skill.setdefault((g.index, s), []).append(info)
    return rows, skill_rows


def _pick_start(rng: random.Random, lo: datetime, hi: datetime, hour_cum: list[float]) -> datetime:
    day = lo + timedelta(seconds=rng.random() * (hi - lo).total_seconds())
    hour = rng.choices(range(24), cum_weights=hour_cum)[0]
    return day.replace(hour=hour, minute=rng.choice((0, 0, 15, 30, 30, 45)), second=0, microsecond=0)


def make_service_records(world: World, rng: random.Random, n: int, links: list[ServiceLink]) -> list[tuple]:
    """`n` service records over the last year; the case-linked ones first, then by volunteer activity."""
    now, year_ago = world.now, world.year_ago
    hour_cum = _cum(_SERVICE_HOURS)
    drafts: list[tuple] = []
    for link in links[:n]:
        drafts.append(
            (
                link.start.replace(microsecond=0),
                link.volunteer_id,
                link.grid_index,
                link.case_id,
                link.skill,
                link.hours,
                "志愿者协助处置事件",
            )
        )
    candidates = []
    for v in world.volunteers:
        lo = max(year_ago, v.registered_at)
        hi = min(now, v.idle_from) if v.idle_from else now
        if (hi - lo).total_seconds() > 86_400:
            candidates.append((v, lo, hi))
    cum = _cum([v.weight for v, _, _ in candidates])
    attempts = 0
    while len(drafts) < n and candidates and attempts < 20 * n:
        attempts += 1
        v, lo, hi = candidates[rng.choices(range(len(candidates)), cum_weights=cum)[0]]
        start = _pick_start(rng, lo, hi, hour_cum)
        hours = rng.choice((1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 4.0))
        if start < lo or start + timedelta(hours=hours) > hi:
            continue
        g = world.grids[v.home_grid]
        if rng.random() < 0.15 and g.neighbours:
            g = world.grids[rng.choice(g.neighbours)]
        skill = rng.choice(v.skills)
        drafts.append((start, v.id, g.index, None, skill, hours, rng.choice(texts.SERVICE_NOTES[skill])))
    drafts.sort(key=lambda d: (d[0], d[1], d[2]))
    rows = []
    for rid, (start, vid, gi, case_id, skill, hours, note) in enumerate(drafts, start=1):
        g = world.grids[gi]
        end = start + timedelta(hours=hours)
        community_user = rng.choice(world.communities[g.community_index].user_ids)
        manager = world.volunteer_manager_id
        creator = manager if manager is not None and rng.random() < 0.6 else community_user
        verified_by = verified_at = None
        if rng.random() < 0.87:
            at = end + timedelta(seconds=rng.randint(3600, 3 * 86_400))
            if at <= now:
                verified_by = manager if manager is not None and rng.random() < 0.6 else community_user
                verified_at = at
        rows.append(
            (rid, vid, g.id, case_id, skill, start, end, hours, note, creator, verified_by, verified_at, None)
        )
    return rows


def _visit_groups(rng: random.Random, g: GridInfo) -> list[str]:
    if rng.random() < 0.35:
        return []
    fields = [f for f in _VISIT_GROUPS if g.population.get(f, 0) > 0]
    if not fields:
        return []
    weights = [
        math.sqrt(g.population[f])
        * (
            3.0
            if f in ("elderly_alone", "elderly_solitary", "disabled", "low_income", "left_behind_children")
            else 1.0
        )
        for f in fields
    ]
    k = 1 if rng.random() < 0.7 else 2
    picked = {rng.choices(fields, weights)[0] for _ in range(k)}
    return [f for f in _VISIT_GROUPS if f in picked]


def make_visits(world: World, rng: random.Random, n: int, links: list[VisitLink]) -> list[tuple]:
    """`n` visits over the last year by each grid's worker; a share of them found a case on the spot."""
    now, year_ago = world.now, world.year_ago
    hour_cum = _cum(_VISIT_HOURS)
    drafts: list[tuple] = []
    linked = rng.sample(links, min(len(links), int(n * 0.08)))
    for link in linked:
        at = link.at - timedelta(seconds=rng.randint(120, 1500))
        if at >= year_ago:
            drafts.append((at, link.grid_index, link.building_id, link.case_id))
    diligence = [rng.lognormvariate(0.0, 0.35) * (0.5 + 0.5 * g.households / 150) for g in world.grids]
    cum = _cum(diligence)
    attempts = 0
    while len(drafts) < n and attempts < 20 * n:
        attempts += 1
        g = world.grids[rng.choices(range(len(world.grids)), cum_weights=cum)[0]]
        hi = min(now, g.quiet_from) if g.quiet_from else now
        at = _pick_start(rng, year_ago, hi, hour_cum).replace(
            minute=rng.randrange(60), second=rng.randrange(60)
        )
        if at < year_ago or at > hi or (at.weekday() >= 5 and rng.random() < 0.7):
            continue
        b = g.buildings[rng.choices(range(len(g.buildings)), cum_weights=g.building_cum)[0]]
        drafts.append((at, g.index, b.id, None))
    drafts.sort(key=lambda d: (d[0], d[1]))
    rows = []
    for vid, (at, gi, building_id, case_id) in enumerate(drafts, start=1):
        g = world.grids[gi]
        groups = _visit_groups(rng, g)
        met = rng.choice(texts.VISIT_MET)
        if case_id is not None:
            note = "走访中发现问题，已上报事件"
        else:
            note = rng.choice(texts.VISIT_NOTES[groups[0] if groups else ""])
        households = (
            0 if met == "无人在家" else rng.choices(range(1, 11), (10, 18, 20, 16, 12, 8, 6, 4, 3, 3))[0]
        )
        rows.append(
            (
                vid,
                g.worker_id,
                g.id,
                building_id,
                max(1, households),
                at,
                met,
                json.dumps(groups),
                note,
                case_id,
            )
        )
    return rows
