"""Case generation: arrivals over the history and each case's life through the workflow state machine.

Arrivals: the total is spread over the days with a weekday/weekend/holiday/season profile (multinomial, so
daily counts vary naturally), each case gets a grid (by households and a per-grid activity level), a
category (by the grid's kind and the season: ENV and SAF in summer, AID and ELD before holidays), a source
and an hour of the day. Cases of a day are numbered in order of arrival.

Life: each case's whole intended history is drafted first — report, accept, dispatch or start, side actions
(escalation with report-backs, extension, volunteer assignment, supervision), resolve (with rework), verify,
follow-up and close — with times laid out against the case's SLA so that the outcome rates of DESIGN §6
come out. Then the draft is cut at "now" (and, for a few "stuck" cases, after a given stage), replayed
through :data:`dashboard.cases.workflow.TRANSITIONS`, and every case column is derived from the events
that were kept, so the case row always agrees with its event log.

Handling happens in daytime (08:00–20:00, every day) for working-time categories and around the clock for
natural-hour ones (safety, security, emergencies); times are computed on that clock and mapped back.
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, ClassVar, NamedTuple

import chinese_calendar
import numpy as np
import shapely

from dashboard.cases import sla
from dashboard.cases.commands import ESCALATION_LIMITS
from dashboard.cases.workflow import TRANSITIONS
from dashboard.kernel.privacy import mask_name
from models.enums import OPEN_STATUSES, CalendarKind, CaseSource, CaseStatus, EscalationLevel, Satisfaction
from seed import names, texts
from seed.residents import ResidentChannel
from seed.world import BuildingInfo, CategoryInfo, CommunityInfo, GridInfo, World

S = CaseStatus

CASE_COLUMNS = (
    "id",
    "number",
    "category_id",
    "title",
    "description",
    "grid_id",
    "community_id",
    "lon",
    "lat",
    "address",
    "source",
    "external_id",
    "reporter_name",
    "reporter_phone",
    "reporter_anonymous",
    "status",
    "priority",
    "assignee_id",
    "department_id",
    "reported_at",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "verified_at",
    "closed_at",
    "due_at",
    "response_due_at",
    "warn_at",
    "black_at",
    "extension_count",
    "rework_count",
    "escalation_level",
    "supervised",
    "duplicate_of_id",
    "satisfaction",
    "solved",
    "version",
    "updated_at",
)
EVENT_COLUMNS = ("id", "case_id", "at", "actor_id", "action", "from_status", "to_status", "note", "payload")
EXTENSION_COLUMNS = (
    "id",
    "case_id",
    "requested_by",
    "requested_at",
    "amount",
    "reason",
    "decision",
    "decided_by",
    "decided_at",
    "old_due_at",
    "new_due_at",
)
ESCALATION_COLUMNS = (
    "id",
    "case_id",
    "department_id",
    "level",
    "escalated_at",
    "escalated_by",
    "due_at",
    "reported_back_at",
    "reported_back_by",
    "report",
)

# ------------------------------------------------------------------ rates (DESIGN §6 outcomes)

REJECT_RATE = 0.02
DUPLICATE_RATE = 0.02
RESPONSE_ON_TIME = 0.945
REWORK_RATE = 0.042
EXTENSION_RATE = 0.03
ESCALATION_RATE = 0.05
SOLVED_RATE = 0.955
ON_TIME_BASE = 0.915
UNREACHABLE_RATE = 0.03
ANONYMOUS_RATE = 0.08
STUCK_RECENT_DAYS = 28  # a stalled case is escalated within weeks: older ones are all closed ...
STUCK_LONG_CODES = frozenset({"PRJ"})  # ... except projects and 历史遗留, which may run for months
STUCK_EVERY = 60  # one in this many cases past their due time stalls (the first one always)
WAITING_DAYS = 1.5  # a report waits at most this long for acceptance (awaiting details, reported at night)
WAITING_EVERY = 25  # one in this many recent reports still waits
MAX_ACCEPT_WAIT = timedelta(hours=40)  # a late acceptance still comes within two days
VOLUNTEER_CASE_RATE = 0.3

_ESCALATION_FACTOR = {
    "SAF": 2.0,
    "EMG": 3.0,
    "DIS": 1.8,
    "PRJ": 2.5,
    "INF": 1.3,
    "SEC": 1.5,
    "ELD": 0.4,
    "PTY": 0.3,
    "SUG": 0.3,
    "CND": 0.3,
    "EMP": 0.5,
    "LEG": 0.5,
    "FLT": 0.5,
}
_EXTENSION_FACTOR = {"PRJ": 3.0, "INF": 1.8, "DIS": 1.5, "AID": 1.3, "EMG": 0.0, "SEC": 0.3, "SAF": 0.5}
_ON_TIME_ADJ = {"PRJ": -0.12, "EMG": -0.04, "INF": -0.03, "DIS": -0.02, "SUG": 0.03, "PTY": 0.04}
_VOLUNTEER_SKILLS = {
    "ELD": ("助老探访", "数字助老", "家政便民"),
    "DSB": ("助残",),
    "AID": ("帮贫济困", "助老探访"),
}
_PUBLIC_SPACE = frozenset({"ENV", "INF", "SAF", "SEC", "EMG", "ADM", "PRJ", "SUG"})

# Grid-kind and season multipliers of the category shares.
_KIND_FACTOR: dict[str, dict[str, float]] = {
    "urban": {"INF": 1.45, "PRP": 1.5, "ENV": 1.05, "SAF": 0.9, "AID": 0.8, "FLT": 1.2, "DIS": 1.05},
    "suburban": {"ENV": 1.2, "SAF": 1.3, "AID": 1.35, "PRP": 0.55, "INF": 0.75, "EMP": 1.2, "CHD": 1.3},
    "farm": {
        "ENV": 1.3,
        "SAF": 1.45,
        "AID": 1.45,
        "PRP": 0.15,
        "INF": 0.5,
        "FLT": 0.5,
        "EMP": 1.3,
        "CHD": 1.4,
        "DIS": 1.2,
    },
}
_SUMMER_FACTOR = {"ENV": 1.35, "SAF": 1.3, "HLT": 1.2, "EMG": 1.3}
_HOLIDAY_FACTOR = {"AID": 1.8, "ELD": 1.6, "PTY": 1.3}

_SOURCES = (
    CaseSource.grid_visit,
    CaseSource.proxy,
    CaseSource.hotline,
    CaseSource.assigned,
    CaseSource.walk_in,
    CaseSource.online,
)
_SOURCE_WEIGHTS: dict[str, tuple[float, ...]] = {
    "": (0.43, 0.24, 0.15, 0.04, 0.08, 0.06),
    "ADM": (0.0, 0.0, 0.12, 0.88, 0.0, 0.0),
    "EMG": (0.35, 0.0, 0.55, 0.0, 0.1, 0.0),
    "SEC": (0.4, 0.05, 0.4, 0.02, 0.1, 0.03),
    "SUG": (0.12, 0.13, 0.2, 0.05, 0.2, 0.3),
    "CND": (0.0, 0.05, 0.4, 0.1, 0.2, 0.25),
    "LEG": (0.15, 0.25, 0.2, 0.02, 0.3, 0.08),
    "PTY": (0.3, 0.2, 0.05, 0.1, 0.3, 0.05),
}
_GRID_WORKER_SOURCES = frozenset({CaseSource.grid_visit, CaseSource.proxy})

# Hour-of-day profiles: residents and hotlines (round the clock, morning peak) and grid workers (office hours).
_PUBLIC_HOURS = (
    *(0.3, 0.2, 0.15, 0.1, 0.1, 0.2),  # 00–05
    *(0.6, 2.0, 6.0, 9.0, 9.5, 7.0),  # 06–11
    *(4.0, 4.0, 6.5, 7.0, 6.5, 5.0),  # 12–17
    *(3.0, 2.5, 2.0, 1.5, 1.0, 0.6),  # 18–23
)
_WORKER_HOURS = (
    *(0, 0, 0, 0, 0, 0),  # 00–05
    *(0, 0.5, 7.0, 10.0, 10.0, 6.0),  # 06–11
    *(1.0, 1.5, 6.0, 8.0, 7.5, 5.0),  # 12–17
    *(1.0, 0.3, 0, 0, 0, 0),  # 18–23
)

_DAY_START = 8 * 3600
_DAY_LEN = 12 * 3600
_M_PER_DEG_LAT = 111_195.0
_M_PER_DEG_LON = _M_PER_DEG_LAT * math.cos(math.radians(33.96))


def _cum(weights: tuple[float, ...] | list[float]) -> list[float]:
    return list(accumulate(weights))


def _payload(**values: object) -> str:
    """The event payload as the workflow service writes it (sorted keys, datetimes as text)."""
    return json.dumps(values, ensure_ascii=False, default=str, sort_keys=True)


_FOLLOW_UP_PAYLOAD = {s: _payload(satisfaction=s.value) for s in Satisfaction}
_CLOSE_PAYLOAD = {b: _payload(solved=b) for b in (True, False)}


# ------------------------------------------------------------------ clocks


def _day_u(t: datetime) -> int:
    """Daytime clock: seconds of 08:00–20:00 since day 1 (night instants count as the next morning)."""
    s = t.hour * 3600 + t.minute * 60 + t.second - _DAY_START
    return t.toordinal() * _DAY_LEN + (0 if s < 0 else _DAY_LEN if s > _DAY_LEN else s)


def _day_t(u: float) -> datetime:
    o, s = divmod(int(u), _DAY_LEN)
    return datetime.fromordinal(o) + timedelta(seconds=_DAY_START + s)


def _nat_u(t: datetime) -> int:
    return t.toordinal() * 86400 + t.hour * 3600 + t.minute * 60 + t.second


def _nat_t(u: float) -> datetime:
    o, s = divmod(int(u), 86400)
    return datetime.fromordinal(o) + timedelta(seconds=s)


# ------------------------------------------------------------------ day profile


def history_days(cases: int | None) -> tuple[int, int]:
    """(number of cases, days of history): ≈ 100 a day for a year, longer for more, at most 10 years."""
    if cases is None:
        return 36_500, 365
    if cases <= 36_500:
        return cases, 365
    if cases <= 365_000:
        return cases, math.ceil(cases / 100)
    return cases, 3650


def _holiday_bump_days(first: date, last: date) -> set[date]:
    """Days during and up to ten days before Spring Festival, Mid-autumn and National Day holidays."""
    out: set[date] = set()
    day = first - timedelta(days=1)
    while day <= last + timedelta(days=11):
        day += timedelta(days=1)
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            continue
        if on_holiday and name in ("Spring Festival", "Mid-autumn Festival", "National Day"):
            out.update(day - timedelta(days=k) for k in range(11))
    return out


def _day_weight(day: date, cal: sla.WorkCalendar) -> float:
    if cal.is_working_day(day):
        w = 1.12
    else:
        try:
            on_holiday, _ = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            on_holiday = False
        w = 0.66 if on_holiday and day.weekday() < 5 else 0.76
    if day.month in (6, 7, 8):
        w *= 1.08
    elif day.month in (12, 1, 2):
        w *= 0.95
    return w


# ------------------------------------------------------------------ the generator


@dataclass
class ServiceLink:
    """A volunteer assigned to a case: becomes a service record linked to the case."""

    volunteer_id: int
    grid_index: int
    case_id: int
    skill: str
    start: datetime
    hours: float


@dataclass
class VisitLink:
    """A case a grid worker reported during a visit: becomes a visit record linked to the case."""

    grid_index: int
    case_id: int
    at: datetime
    building_id: int


@dataclass
class CaseStats:
    cases: int = 0
    events: int = 0
    extensions: int = 0
    escalations: int = 0
    service_links: list[ServiceLink] = field(default_factory=list)
    visit_links: list[VisitLink] = field(default_factory=list)


@dataclass
class _Recent:
    id: int
    number: str
    at: datetime
    category: int
    lon: float
    lat: float
    title: str
    description: str
    address: str
    building: int


Flush = Callable[[list[tuple], list[tuple], list[tuple], list[tuple]], None]


class _Place(NamedTuple):
    """Where a case is and what it says."""

    building: BuildingInfo
    lon: float
    lat: float
    title: str
    description: str
    address: str


class _Extension(NamedTuple):
    """An extension the handler will ask for: by how much, whether it is granted, the due time after it."""

    amount: float
    approved: bool
    due: datetime


@dataclass
class _Draft:
    """The intended history of one case being drafted: what every step needs and the events so far.

    Each event is ``(at, order, actor, action, note, payload, meta)``; `order` (the next one is kept here)
    breaks ties of `at` in drafting order.
    """

    cid: int
    t0: datetime
    g: GridInfo
    c: CategoryInfo
    comm: CommunityInfo
    times: sla.SlaTimes
    to_u: Callable[[datetime], int]
    from_u: Callable[[float], datetime]
    operator: int
    ev: list[tuple] = field(default_factory=list)
    order: int = 0

    def add(
        self, at: datetime, actor: int, action: str, note: str, payload: str, meta: object = None
    ) -> None:
        self.ev.append((at, self.order, actor, action, note, payload, meta))
        self.order += 1


@dataclass
class _Replay:
    """What replaying one case's kept events derives: the case row's fields, its extension and escalations."""

    cid: int
    fields: dict[str, Any]
    extension: list | None = None
    escalations: dict[int, list] = field(default_factory=dict)


def _external_id(source: CaseSource, stamp: str, seq: int) -> str | None:
    """The case's number in the system it came from: the 12345 hotline, or an assignment from above."""
    if source == CaseSource.hotline:
        return f"12345-{stamp}-{seq:04d}"
    if source == CaseSource.assigned:
        return f"JB{stamp}{seq:04d}"
    return None


class CaseGenerator:
    """Generates all cases in order of arrival and hands them to `flush` in chunks."""

    def __init__(
        self,
        world: World,
        rng: random.Random,
        np_rng: np.random.Generator,
        cal: sla.WorkCalendar = sla.DEFAULT_CALENDAR,
    ) -> None:
        self.w = world
        self.rng = rng
        self.np_rng = np_rng
        self.cal = cal
        self.now = world.now
        self.year_ago = world.year_ago
        self.residents = ResidentChannel(world.now)
        self.stats = CaseStats()
        self._event_id = 0
        self._ext_id = 0
        self._esc_id = 0
        self._stuck_cycle = 0
        self._eligible_cycle = 0
        self._waiting_cycle = 0
        self._dups = 0
        self._recent: list[deque[_Recent]] = [deque() for _ in world.grids]
        self._cases: list[tuple] = []
        self._events: list[tuple] = []
        self._exts: list[tuple] = []
        self._escs: list[tuple] = []
        self._category_cum: dict[tuple[str, bool, bool], list[float]] = {}
        self._source_cum = {k: _cum(v) for k, v in _SOURCE_WEIGHTS.items()}
        self._public_cum = _cum(_PUBLIC_HOURS)
        self._worker_cum = _cum(_WORKER_HOURS)
        self._payload_cache: dict[tuple, str] = {}

    # -------------------------------------------------------------- arrivals

    def run(
        self,
        total: int,
        days: int,
        flush: Flush,
        chunk: int = 5000,
        progress: Callable[[float], None] | None = None,
    ) -> CaseStats:
        today = self.now.date()
        first = today - timedelta(days=days - 1)
        day_list = [first + timedelta(days=k) for k in range(days)]
        bump = _holiday_bump_days(first, today)
        weights = np.array([_day_weight(d, self.cal) for d in day_list])
        elapsed = self.now - datetime.combine(today, datetime.min.time())
        weights[-1] *= self._elapsed_share(elapsed.total_seconds())
        counts = (
            self.np_rng.multinomial(total, weights / weights.sum()) if total else np.zeros(days, dtype=int)
        )
        grid_cum: list[float] = []
        quiet_key: tuple[int, ...] | None = None
        case_id = 0
        for k, day in enumerate(day_list):
            day_start = datetime.combine(day, datetime.min.time())
            key = tuple(g.index for g in self.w.grids if g.quiet_from is None or g.quiet_from > day_start)
            if key != quiet_key:
                quiet_key = key
                grid_cum = _cum([g.case_weight if g.index in key else 0.0 for g in self.w.grids])
            arrivals = [
                self._arrival(day, day_start, grid_cum, day.month in (6, 7, 8, 9), day in bump)
                for _ in range(int(counts[k]))
            ]
            arrivals.sort(key=lambda a: a[0])
            stamp = day.strftime("%Y%m%d")
            for seq, (t0, grid, cat, source) in enumerate(arrivals, start=1):
                case_id += 1
                self._case(
                    case_id,
                    f"XL{stamp}-{seq:04d}",
                    stamp,
                    seq,
                    t0,
                    self.w.grids[grid],
                    self.w.categories[cat],
                    source,
                )
                if len(self._cases) >= chunk:
                    self._flush(flush)
            if progress is not None and (k % 7 == 0 or k == days - 1):
                progress((k + 1) / days)
        self._flush(flush)
        return self.stats

    def _elapsed_share(self, seconds: float) -> float:
        """Share of a day's arrivals (public hour profile) that come before `seconds` past midnight."""
        hours = seconds / 3600
        whole = int(hours)
        mass = sum(_PUBLIC_HOURS[:whole]) + (_PUBLIC_HOURS[whole] * (hours - whole) if whole < 24 else 0.0)
        return mass / sum(_PUBLIC_HOURS)

    def _arrival(
        self, day: date, day_start: datetime, grid_cum: list[float], summer: bool, holiday: bool
    ) -> tuple[datetime, int, int, CaseSource]:
        rng = self.rng
        grid = rng.choices(range(len(self.w.grids)), cum_weights=grid_cum)[0]
        kind = self.w.grids[grid].kind
        cum = self._category_cum.get((kind, summer, holiday))
        if cum is None:
            cum = self._category_cum[(kind, summer, holiday)] = self._category_weights(kind, summer, holiday)
        cat = rng.choices(range(len(self.w.categories)), cum_weights=cum)[0]
        code = self.w.categories[cat].spec.code
        source = rng.choices(_SOURCES, cum_weights=self._source_cum.get(code, self._source_cum[""]))[0]
        hour_cum = self._worker_cum if source in _GRID_WORKER_SOURCES else self._public_cum
        limit = self.now if day == self.now.date() else None
        for _ in range(50):
            hour = rng.choices(range(24), cum_weights=hour_cum)[0]
            t0 = day_start + timedelta(seconds=hour * 3600 + rng.randrange(3600))
            if limit is None or t0 <= limit:
                break
        else:
            t0 = day_start + timedelta(
                seconds=rng.randrange(max(1, int((limit - day_start).total_seconds())))
            )
        return t0, grid, cat, self.residents.source(source, t0)

    def _category_weights(self, kind: str, summer: bool, holiday: bool) -> list[float]:
        out = []
        for c in self.w.categories:
            code = c.spec.code
            w = c.spec.share * _KIND_FACTOR.get(kind, {}).get(code, 1.0)
            if summer:
                w *= _SUMMER_FACTOR.get(code, 1.0)
            if holiday:
                w *= _HOLIDAY_FACTOR.get(code, 1.0)
            out.append(w)
        return _cum(out)

    # -------------------------------------------------------------- one case

    def _case(
        self,
        cid: int,
        number: str,
        stamp: str,
        seq: int,
        t0: datetime,
        g: GridInfo,
        c: CategoryInfo,
        source: CaseSource,
    ) -> None:
        rng, w, now = self.rng, self.w, self.now
        community = w.communities[g.community_index]
        original = self._duplicate_of(cid, t0, g)
        if original is not None:
            c = w.categories[original.category]
        spec = c.spec
        place = self._place(g, spec.code, community.name, original)
        anonymous, reporter_name, reporter_phone = self._reporter()

        times = sla.sla_times(t0, spec.sla_limit, spec.calendar, self.cal)
        response_due = sla.add_limit(t0, spec.response_limit, spec.response_calendar, self.cal)
        natural = spec.calendar == CalendarKind.natural_hours
        to_u, from_u = (_nat_u, _nat_t) if natural else (_day_u, _day_t)

        reporter_actor = self._reporter_actor(g, community, source)
        report_note = rng.choice(texts.REPORT_NOTES[source])
        operator = rng.choice(w.operators)
        draft = _Draft(cid, t0, g, c, community, times, to_u, from_u, operator)
        draft.add(t0, reporter_actor, "report", report_note, self._report_payload(source, spec.sla_limit))
        stuck: CaseStatus | None = None
        service: ServiceLink | None = None
        if original is not None:
            self._draft_merge(draft, original)
        elif rng.random() < REJECT_RATE:
            t = self._accept_time(t0, response_due, spec, True)
            draft.add(t, operator, "reject", rng.choice(texts.REJECT_NOTES), "{}")
        else:
            stuck = self._stuck(t0, spec.code, times.due_at)
            service = self._life(draft, response_due, stuck, anonymous)

        rows, fields = self._replay(draft, stuck)
        if (
            fields["service_kept"]
            and service is not None
            and service.start + timedelta(hours=service.hours) <= now
        ):
            self.stats.service_links.append(service)
        if source == CaseSource.grid_visit and t0 >= self.year_ago:
            self.stats.visit_links.append(VisitLink(g.index, cid, t0, place.building.id))
        if original is None and fields["status"] != S.rejected:
            self._recent[g.index].append(
                _Recent(
                    cid,
                    number,
                    t0,
                    c.index,
                    place.lon,
                    place.lat,
                    place.title,
                    place.description,
                    place.address,
                    place.building.id,
                )
            )

        self._cases.append(
            (
                cid,
                number,
                c.id,
                place.title,
                place.description,
                g.id,
                g.community_id,
                place.lon,
                place.lat,
                place.address,
                source.value,
                _external_id(source, stamp, seq),
                reporter_name,
                reporter_phone,
                anonymous,
                fields["status"].value,
                spec.priority.value,
                fields["assignee"],
                fields["department"],
                t0,
                fields["accepted_at"],
                fields["dispatched_at"],
                fields["resolved_at"],
                fields["verified_at"],
                fields["closed_at"],
                fields["due"],
                response_due,
                fields["warn"],
                fields["black"],
                fields["extensions"],
                fields["reworks"],
                fields["escalation"],
                fields["supervised"],
                original.id if original else None,
                fields["satisfaction"],
                fields["solved"],
                len(rows),
                rows[-1][2],
            )
        )
        self._events.extend(rows)

    def _duplicate_of(self, cid: int, t0: datetime, g: GridInfo) -> _Recent | None:
        """A case of the last day in grid `g` that this one repeats, while duplicates stay under their rate."""
        recent = self._recent[g.index]
        while recent and (t0 - recent[0].at).total_seconds() > 86_000:
            recent.popleft()
        if self._dups >= DUPLICATE_RATE * cid:
            return None
        candidates = [r for r in recent if (t0 - r.at).total_seconds() <= 86_000]
        if not candidates:
            return None
        original = self.rng.choice(candidates)
        self._dups += 1
        return original

    def _place(self, g: GridInfo, code: str, community: str, original: _Recent | None) -> _Place:
        """A building of grid `g`, a point near it and the case's text; a duplicate's are its original's."""
        rng = self.rng
        if original is None:
            b = g.buildings[rng.choices(range(len(g.buildings)), cum_weights=g.building_cum)[0]]
            lon, lat = self._jitter(g, b.lon, b.lat, 30.0)
            title, description, street = texts.case_text(rng, code, b.name)
            return _Place(b, lon, lat, title, description, self._address(g, b.name, code, community, street))
        b = next(x for x in g.buildings if x.id == original.building)
        lon, lat = self._jitter(g, original.lon, original.lat, 35.0)
        title = original.title + "（再次反映）" if rng.random() < 0.5 else original.title
        return _Place(b, lon, lat, title, original.description, original.address)

    def _reporter(self) -> tuple[bool, str, str]:
        """Whether the reporter stays anonymous, and their name and phone ('' when anonymous)."""
        rng = self.rng
        if rng.random() < ANONYMOUS_RATE:
            return True, "", ""
        return False, names.person_name(rng, None, rng.randint(1940, 2004)), names.mobile(rng)

    def _reporter_actor(self, g: GridInfo, community: CommunityInfo, source: CaseSource) -> int:
        """The user who records the report: the grid worker, the community's staff or a command centre operator."""
        if source in _GRID_WORKER_SOURCES:
            return g.worker_id
        if source == CaseSource.walk_in:
            return self.rng.choice(community.user_ids)
        return self.rng.choice(self.w.operators)

    def _draft_merge(self, draft: _Draft, original: _Recent) -> None:
        """A duplicate: sometimes accepted first, then merged into (closed as a duplicate of) `original`."""
        rng = self.rng
        t = draft.t0 + timedelta(seconds=rng.randint(600, 5400))
        if rng.random() < 0.3:
            draft.add(t, draft.operator, "accept", rng.choice(texts.ACCEPT_NOTES), "{}")
            t += timedelta(seconds=rng.randint(300, 3600))
        draft.add(
            t,
            draft.operator,
            "merge",
            texts.MERGE_NOTE.format(number=original.number),
            _payload(duplicate_of=original.number, duplicate_of_id=original.id),
        )

    def _jitter(self, g: GridInfo, lon: float, lat: float, metres: float) -> tuple[float, float]:
        rng = self.rng
        for _ in range(4):
            r = metres * math.sqrt(rng.random())
            a = rng.random() * 2 * math.pi
            x = round(lon + r * math.cos(a) / _M_PER_DEG_LON, 6)
            y = round(lat + r * math.sin(a) / _M_PER_DEG_LAT, 6)
            if shapely.contains_xy(g.polygon, x, y):
                return x, y
        return lon, lat

    def _address(self, g: GridInfo, building: str, code: str, community: str, street: str | None) -> str:
        rng = self.rng
        if street is not None:
            return f"{street}（{building}附近）"
        if g.kind != "urban":
            return f"{community}{building}"
        if code in _PUBLIC_SPACE and rng.random() < 0.7:
            return f"{building}{rng.choice(('附近', '旁', '门前', '东侧', '西侧', '南侧', '北侧'))}"
        return f"{building}{rng.randint(1, 6)}单元{rng.randint(1, 7)}0{rng.randint(1, 4)}"

    def _stuck(self, t0: datetime, code: str, due_at: datetime) -> CaseStatus | None:
        """Some cases stall at a stage (推诿), as a sub-district that escalates sees it: a few reports of
        the last day and a half still wait for acceptance or dispatch (the first two always, so both
        statuses exist), cases of the last weeks that are past their due time stall at a later stage,
        and only projects and 历史遗留 (PRJ) stay open for months.

        Stalls are counted, not drawn, so that every seed, whatever the hour it runs, has overdue cases
        (the first eligible case always stalls) and their number does not swing with the clock."""
        age_days = (self.now - t0).total_seconds() / 86400
        if age_days < WAITING_DAYS:
            self._waiting_cycle += 1
            waiting = self._waiting_cycle % WAITING_EVERY
            return (S.reported, S.accepted)[waiting - 1] if waiting in (1, 2) else None
        if age_days < 3 or due_at >= self.now:
            return None
        if age_days > STUCK_RECENT_DAYS and code not in STUCK_LONG_CODES:
            return None
        self._eligible_cycle += 1
        if self._eligible_cycle % STUCK_EVERY != 1:
            return None
        later = OPEN_STATUSES[1:]
        self._stuck_cycle += 1
        return later[(self._stuck_cycle - 1) % len(later)]

    def _accept_time(self, t0: datetime, response_due: datetime, spec, on_time: bool) -> datetime:  # type: ignore[no-untyped-def]
        rng = self.rng
        natural = spec.response_calendar == CalendarKind.natural_hours
        if natural:
            t = t0 + timedelta(seconds=60 + int(rng.expovariate(1 / 600)))
        else:
            t = _day_t(_day_u(t0) + 60 + int(rng.expovariate(1 / 1800)))
        if on_time:
            if t > response_due:
                span = max(60, int((response_due - t0).total_seconds()))
                t = t0 + timedelta(seconds=rng.randint(min(60, span), span))
                if not natural and not 7 <= t.hour < 21:
                    t = t0 + timedelta(seconds=rng.randint(min(60, span), span))
            return t
        late = response_due + timedelta(seconds=60 + int(rng.expovariate(1 / 7200)))
        late = late if natural else _day_t(_day_u(late))
        return late if late - t0 <= MAX_ACCEPT_WAIT else self._accept_time(t0, response_due, spec, True)

    def _life(
        self, draft: _Draft, response_due: datetime, stuck: CaseStatus | None, anonymous: bool
    ) -> ServiceLink | None:
        """Draft the whole life of an accepted case (times may lie beyond now; cut later)."""
        acceptor, u1 = self._draft_accept(draft, response_due)
        if stuck == S.reported:
            return None  # the accept is cut off in the replay
        handler, handler_dept, mode, u3 = self._draft_handover(draft, u1, acceptor, stuck)
        if stuck in (S.accepted, S.dispatched):
            return None
        u3 = self._draft_start(draft, u3, handler, handler_dept, mode)
        extension = self._extension(draft)
        ud = draft.to_u(draft.times.due_at if extension is None else extension.due)
        u_close = self._close_time(draft, u3, ud, handler_dept)
        r_first = self._draft_resolution(draft, u3, ud, u_close, handler, anonymous)
        # side actions inside (start, first resolve)
        if extension is not None:
            self._draft_extension(draft, extension, u3, r_first, handler)
        self._draft_escalation(draft, u3, r_first, handler_dept)
        service = None
        skills = _VOLUNTEER_SKILLS.get(draft.c.spec.code)
        if skills and self.rng.random() < VOLUNTEER_CASE_RATE and draft.t0 >= self.year_ago:
            service = self._volunteer(draft, skills, u3, r_first)
        self._draft_supervision(draft, u3, ud, u_close)
        return service

    def _draft_accept(self, draft: _Draft, response_due: datetime) -> tuple[int, int]:
        """The accept, mostly within the response time: (who accepted, when on the case's clock)."""
        rng = self.rng
        t1 = self._accept_time(draft.t0, response_due, draft.c.spec, rng.random() < RESPONSE_ON_TIME)
        acceptor = rng.choice(draft.comm.user_ids) if rng.random() < 0.2 else draft.operator
        draft.add(t1, acceptor, "accept", rng.choice(texts.ACCEPT_NOTES), "{}")
        return acceptor, draft.to_u(t1)

    def _draft_handover(
        self, draft: _Draft, u1: int, acceptor: int, stuck: CaseStatus | None
    ) -> tuple[int, int | None, str, float]:
        """Dispatch to a department or the grid worker, or the grid handles it itself ("self").

        Returns the handler, its department (None for the grid), the mode and when (case clock) it starts.
        """
        rng, c, g = self.rng, draft.c, draft.g
        mode = "dept" if rng.random() < c.spec.dispatch_share else ("self" if rng.random() < 0.55 else "grid")
        if stuck == S.dispatched and mode == "self":
            mode = "grid"
        dept_id = (
            c.department_id
            if rng.random() < 0.9 or not c.co_department_ids
            else rng.choice(c.co_department_ids)
        )
        if mode == "self":
            return g.worker_id, None, mode, u1 + 120 + rng.expovariate(1 / 2400)
        u2 = u1 + 60 + rng.expovariate(1 / 1200)
        handler: int
        handler_dept: int | None
        if mode == "dept":
            handler = rng.choice(self.w.department_handlers[dept_id])
            handler_dept = dept_id
            payload = self._dispatch_payload(None, dept_id)
        else:
            handler, handler_dept = g.worker_id, None
            payload = self._dispatch_payload(handler, None)
        draft.add(
            draft.from_u(u2),
            acceptor,
            "dispatch",
            rng.choice(texts.DISPATCH_NOTES),
            payload,
            (handler, handler_dept),
        )
        if mode == "dept" and rng.random() < 0.02 and stuck != S.dispatched:
            u2 = self._draft_return(draft, u2, handler, dept_id)
            handler, handler_dept = g.worker_id, None
        return handler, handler_dept, mode, u2 + 300 + rng.expovariate(1 / (7200 if mode == "dept" else 3000))

    def _draft_return(self, draft: _Draft, u2: float, handler: int, dept_id: int) -> float:
        """退回: the department sends the case back and the dispatcher re-dispatches it to the grid worker.

        Returns when (case clock) the new dispatch happens.
        """
        rng = self.rng
        u_ret = u2 + 600 + rng.expovariate(1 / 7200)
        draft.add(
            draft.from_u(u_ret),
            handler,
            "return",
            rng.choice(texts.RETURN_NOTES),
            _payload(assignee_id=handler, department_id=dept_id),
        )
        u2 = u_ret + 300 + rng.expovariate(1 / 1800)
        worker = draft.g.worker_id
        draft.add(
            draft.from_u(u2),
            draft.operator,
            "dispatch",
            "重新派遣至网格处置",
            self._dispatch_payload(worker, None),
            (worker, None),
        )
        return u2

    def _draft_start(
        self, draft: _Draft, u3: float, handler: int, handler_dept: int | None, mode: str
    ) -> int:
        """The handler starts at `u3`; returns that time on the case clock (whole seconds)."""
        t3 = draft.from_u(u3)
        start_payload = self._dispatch_payload(handler, None) if mode == "self" else "{}"
        draft.add(
            t3, handler, "start", self.rng.choice(texts.START_NOTES), start_payload, (handler, handler_dept)
        )
        return draft.to_u(t3)

    def _extension(self, draft: _Draft) -> _Extension | None:
        """The extension the handler will ask for, if any (half the time limit), mostly granted."""
        rng, spec = self.rng, draft.c.spec
        if rng.random() >= EXTENSION_RATE * _EXTENSION_FACTOR.get(spec.code, 1.0):
            return None
        approved = rng.random() < 0.9
        amount = (
            float(max(1, round(spec.sla_limit / 2)))
            if spec.calendar != CalendarKind.natural_hours
            else spec.sla_limit / 2
        )
        due = draft.times.due_at
        if approved:
            due = sla.extend(due, amount, spec.calendar, self.cal)
        return _Extension(amount, approved, due)

    def _close_time(self, draft: _Draft, u3: float, ud: int, handler_dept: int | None) -> float:
        """When (case clock) the case closes: before the due time `ud` at the odds of the community,
        category and department, else late.
        """
        rng = self.rng
        span = max(3600, ud - draft.to_u(draft.t0))
        p_on = (
            ON_TIME_BASE
            + draft.comm.on_time_adj
            + _ON_TIME_ADJ.get(draft.c.spec.code, 0.0)
            + (self.w.department_adj.get(handler_dept, 0.0) if handler_dept else 0.0)
        )
        if rng.random() < p_on and ud - 1 - u3 > 900:
            u_close = u3 + (ud - 1 - u3) * rng.triangular(0.1, 0.99, 0.55)
        else:
            u_close = max(ud, u3) + max(600.0, span * rng.expovariate(1 / 0.45))
        if u_close - u3 < 900:
            u_close = u3 + 900
        return u_close

    def _draft_resolution(
        self, draft: _Draft, u3: float, ud: int, u_close: float, handler: int, anonymous: bool
    ) -> float:
        """Resolve (now and then reworked and resolved again), verify, follow up and close.

        Returns when (case clock) the case is first resolved.
        """
        rng, code, from_u, operator = self.rng, draft.c.spec.code, draft.from_u, draft.operator
        s = u_close - u3
        rework = rng.random() < REWORK_RATE
        if rework:
            r_first = u3 + s * rng.uniform(0.22, 0.38)
            u_rework = r_first + s * rng.uniform(0.03, 0.08)
            r_last = u3 + s * rng.uniform(0.6, 0.75)
        else:
            r_first = r_last = u3 + s * rng.uniform(0.45, 0.8)
        u_verify = r_last + (u_close - r_last) * rng.uniform(0.2, 0.55)
        u_follow = u_verify + (u_close - u_verify) * rng.uniform(0.3, 0.85)

        solved = rng.random() < SOLVED_RATE
        resolve_note = rng.choice(texts.RESOLVE_NOTES[code] if solved else texts.UNSOLVED_NOTES)
        if rework:
            draft.add(from_u(r_first), handler, "resolve", rng.choice(texts.RESOLVE_NOTES[code]), "{}")
            draft.add(from_u(u_rework), operator, "rework", rng.choice(texts.REWORK_NOTES), "{}")
        draft.add(from_u(r_last), handler, "resolve", resolve_note, "{}")
        verifier = rng.choice(draft.comm.user_ids) if rng.random() < 0.35 else operator
        draft.add(from_u(u_verify), verifier, "verify", rng.choice(texts.VERIFY_NOTES), "{}")
        if anonymous:
            value, follow_key = Satisfaction.not_reached, "anonymous"
        else:
            value = self._satisfaction(draft.comm.satisfaction, solved, u_close > ud, rework)
            follow_key = value.value
        draft.add(
            from_u(u_follow),
            operator,
            "follow_up",
            rng.choice(texts.FOLLOW_UP_NOTES[follow_key]),
            _FOLLOW_UP_PAYLOAD[value],
            value,
        )
        draft.add(
            from_u(u_close), operator, "close", rng.choice(texts.CLOSE_NOTES), _CLOSE_PAYLOAD[solved], solved
        )
        return r_first

    def _draft_extension(
        self, draft: _Draft, extension: _Extension, u3: float, r_first: float, handler: int
    ) -> None:
        """The handler asks for `extension` before the first resolve (and the old due time); the decision follows."""
        rng, times, spec, from_u = self.rng, draft.times, draft.c.spec, draft.from_u
        amount = extension.amount
        old_due_u = draft.to_u(times.due_at)
        top = min(r_first, old_due_u) if old_due_u - u3 > 300 else r_first
        u_req = u3 + (top - u3) * rng.uniform(0.3, 0.8)
        u_dec = u_req + (r_first - u_req) * rng.uniform(0.1, 0.4)
        reason = rng.choice(texts.EXTEND_REASONS)
        draft.add(from_u(u_req), handler, "extend_request", reason, _payload(amount=amount), (amount, reason))
        if extension.approved:
            new = (
                extension.due,
                sla.extend(times.warn_at, amount, spec.calendar, self.cal),
                sla.extend(times.black_at, amount, spec.calendar, self.cal),
            )
            draft.add(
                from_u(u_dec),
                draft.operator,
                "extend_approve",
                rng.choice(texts.EXTEND_APPROVE_NOTES),
                _payload(amount=amount, old_due_at=times.due_at, new_due_at=extension.due),
                new,
            )
        else:
            draft.add(
                from_u(u_dec),
                draft.operator,
                "extend_refuse",
                rng.choice(texts.EXTEND_REFUSE_NOTES),
                _payload(amount=amount),
            )

    def _draft_escalation(self, draft: _Draft, u3: float, r_first: float, handler_dept: int | None) -> None:
        """Now and then 吹哨: the case is escalated to other departments, who report back before it is resolved."""
        rng, w, c = self.rng, self.w, draft.c
        code = c.spec.code
        if rng.random() >= ESCALATION_RATE * _ESCALATION_FACTOR.get(code, 1.0):
            return
        level = (
            EscalationLevel.emergency
            if code == "EMG"
            else (EscalationLevel.tough if rng.random() < 0.28 else EscalationLevel.daily)
        )
        others = [d for d in [c.department_id, *c.co_department_ids] if d != handler_dept]
        n = min(len(others), rng.choices((1, 2, 3), (0.55, 0.33, 0.12))[0])
        depts = sorted(rng.sample(others, n))
        u_esc = u3 + (r_first - u3) * rng.uniform(0.05, 0.3)
        t_esc = draft.from_u(u_esc)
        escalator = rng.choice(draft.comm.user_ids) if rng.random() < 0.5 else draft.operator
        draft.add(
            t_esc,
            escalator,
            "escalate",
            texts.ESCALATE_NOTES[level.value],
            _payload(
                level=level.value,
                departments=[w.department_names[d] for d in depts],
                due_at=self._escalation_due(t_esc, level),
            ),
            (level, depts),
        )
        backs = sorted(u_esc + (r_first - u_esc) * rng.uniform(0.1, 0.9) for _ in depts)
        for u_back, dept in zip(backs, depts, strict=True):
            draft.add(
                draft.from_u(u_back),
                rng.choice(w.department_handlers[dept]),
                "report_back",
                rng.choice(texts.REPORT_BACK_NOTES),
                _payload(department=w.department_names[dept]),
                dept,
            )

    def _draft_supervision(self, draft: _Draft, u3: float, ud: int, u_close: float) -> None:
        """Half the late cases are supervised (督办) between their due time and their close."""
        rng = self.rng
        if u_close > ud and rng.random() < 0.5:
            u_sup = ud + (u_close - ud) * rng.uniform(0.3, 0.7)
            if u_sup > u3:
                draft.add(
                    draft.from_u(u_sup), draft.operator, "supervise", rng.choice(texts.SUPERVISE_NOTES), "{}"
                )

    def _volunteer(
        self, draft: _Draft, skills: tuple[str, ...], u3: float, r_first: float
    ) -> ServiceLink | None:
        """A volunteer of the grid with one of `skills`, assigned to help; None when the grid has none free."""
        rng, g = self.rng, draft.g
        u_assign = u3 + (r_first - u3) * rng.uniform(0.05, 0.3)
        t_assign = draft.from_u(u_assign)
        skill = rng.choice(skills)
        pool = [
            v
            for v in self.w.volunteers_by_grid_skill.get((g.index, skill), ())
            if v.registered_at < t_assign and (v.idle_from is None or v.idle_from > t_assign)
        ]
        if not pool:
            return None
        v = rng.choice(pool)
        draft.add(
            t_assign,
            draft.operator,
            "assign_volunteer",
            f"{mask_name(v.name)} · {skill}",
            _payload(volunteer_id=v.id, skill=skill),
        )
        start = draft.from_u(u_assign + (r_first - u_assign) * rng.uniform(0.2, 0.8))
        return ServiceLink(v.id, g.index, draft.cid, skill, start, rng.choice((1.0, 1.5, 2.0, 2.0, 3.0)))

    def _satisfaction(self, rate: float, solved: bool, late: bool, rework: bool) -> Satisfaction:
        """Follow-up result of a reporter who left a name and phone number."""
        rng = self.rng
        r = rng.random()
        if r < UNREACHABLE_RATE:
            return Satisfaction.not_reached
        p = rate + 0.03 - (0.07 if late else 0.0) - (0.4 if not solved else 0.0) - (0.05 if rework else 0.0)
        if rng.random() >= p:
            return Satisfaction.dissatisfied
        return Satisfaction.satisfied if rng.random() < 0.74 else Satisfaction.basically

    # -------------------------------------------------------------- replay

    def _replay(self, draft: _Draft, stuck: CaseStatus | None) -> tuple[list[tuple], dict]:
        """Cut the draft at now (or where it is stuck), check it against TRANSITIONS, derive the case row."""
        now, cid, times = self.now, draft.cid, draft.times
        draft.ev.sort(key=lambda e: (e[0], e[1]))
        replay = _Replay(
            cid,
            {
                "status": None,
                "assignee": None,
                "department": None,
                "accepted_at": None,
                "dispatched_at": None,
                "resolved_at": None,
                "verified_at": None,
                "closed_at": None,
                "due": times.due_at,
                "warn": times.warn_at,
                "black": times.black_at,
                "extensions": 0,
                "reworks": 0,
                "escalation": None,
                "supervised": False,
                "satisfaction": None,
                "solved": None,
                "service_kept": False,
            },
        )
        rows: list[tuple] = []
        status: CaseStatus | None = None
        last_at = draft.ev[0][0]
        for at, _, actor, action, note, payload, meta in draft.ev:
            if at > now:
                break
            allowed, to = TRANSITIONS[action]
            if status not in allowed:
                raise AssertionError(f"seed drafted an illegal {action} from {status} for case {cid}")
            self._event_id += 1
            rows.append(
                (
                    self._event_id,
                    cid,
                    at,
                    actor,
                    action,
                    status and status.value,
                    to and to.value,
                    note,
                    payload,
                )
            )
            last_at = at
            apply = self._APPLY.get(action)
            if apply is not None:
                apply(self, replay, at, actor, note, meta)
            status = status if to is None else to
            if stuck is not None and to == stuck:
                break
        if status in OPEN_STATUSES:
            self._supervise_overdue(replay, rows, status, last_at, draft.operator)
        replay.fields["status"] = status
        if replay.extension is not None:
            self._exts.append(tuple(replay.extension))
        self._escs.extend(tuple(r) for _, r in sorted(replay.escalations.items()))
        return rows, replay.fields

    def _supervise_overdue(
        self, replay: _Replay, rows: list[tuple], status: CaseStatus, last_at: datetime, operator: int
    ) -> None:
        """Overdue and still open: the command centre supervises (督办) once it turns black."""
        rng, now, f = self.rng, self.now, replay.fields
        black = f["black"]
        if f["supervised"] or black is None or black >= now or rng.random() >= 0.8:
            return
        t_sup = max(black + timedelta(seconds=rng.randint(600, 86_400)), last_at + timedelta(seconds=60))
        if t_sup > now:
            return
        self._event_id += 1
        rows.append(
            (
                self._event_id,
                replay.cid,
                t_sup,
                operator,
                "supervise",
                status.value,
                None,
                rng.choice(texts.SUPERVISE_NOTES),
                "{}",
            )
        )
        f["supervised"] = True

    # What each kept event sets on the case row (or its extension and escalation rows).

    def _on_accept(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["accepted_at"] = r.fields["accepted_at"] or at

    def _on_dispatch(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["dispatched_at"] = at
        r.fields["assignee"], r.fields["department"] = meta

    def _on_start(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["assignee"], r.fields["department"] = meta

    def _on_return(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["assignee"] = r.fields["department"] = None

    def _on_resolve(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["resolved_at"] = at

    def _on_rework(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["reworks"] += 1
        r.fields["verified_at"] = None

    def _on_verify(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["verified_at"] = at

    def _on_follow_up(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["satisfaction"] = meta.value

    def _on_close(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["closed_at"] = at
        r.fields["solved"] = meta

    def _on_merge(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["closed_at"] = at

    def _on_extend_request(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        self._ext_id += 1
        amount, reason = meta
        r.extension = [
            self._ext_id,
            r.cid,
            actor,
            at,
            amount,
            reason,
            "pending",
            None,
            None,
            r.fields["due"],
            None,
        ]

    def _on_extend_approve(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        if r.extension is None:
            return
        r.extension[6:9] = ["approved", actor, at]
        r.extension[10] = meta[0]
        r.fields["due"], r.fields["warn"], r.fields["black"] = meta
        r.fields["extensions"] += 1

    def _on_extend_refuse(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        if r.extension is not None:
            r.extension[6:9] = ["refused", actor, at]

    def _on_escalate(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        level, depts = meta
        r.fields["escalation"] = level.value
        esc_due = self._escalation_due(at, level)
        for d in depts:
            self._esc_id += 1
            r.escalations[d] = [self._esc_id, r.cid, d, level.value, at, actor, esc_due, None, None, ""]

    def _on_report_back(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        row = r.escalations.get(meta)
        if row is not None:
            row[7], row[8], row[9] = at, actor, note

    def _on_supervise(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["supervised"] = True

    def _on_assign_volunteer(self, r: _Replay, at: datetime, actor: int, note: str, meta: Any) -> None:
        r.fields["service_kept"] = True

    _APPLY: ClassVar[dict[str, Callable[[CaseGenerator, _Replay, datetime, int, str, Any], None]]] = {
        "accept": _on_accept,
        "dispatch": _on_dispatch,
        "start": _on_start,
        "return": _on_return,
        "resolve": _on_resolve,
        "rework": _on_rework,
        "verify": _on_verify,
        "follow_up": _on_follow_up,
        "close": _on_close,
        "merge": _on_merge,
        "extend_request": _on_extend_request,
        "extend_approve": _on_extend_approve,
        "extend_refuse": _on_extend_refuse,
        "escalate": _on_escalate,
        "report_back": _on_report_back,
        "supervise": _on_supervise,
        "assign_volunteer": _on_assign_volunteer,
    }
    """The step of :meth:`_replay` for each action that sets something (report, reject and comment set nothing)."""

    def _report_payload(self, source: CaseSource, limit: float) -> str:
        key = (source, limit)
        text = self._payload_cache.get(key)
        if text is None:
            text = self._payload_cache[key] = _payload(source=source.value, limit=float(limit))
        return text

    def _dispatch_payload(self, assignee: int | None, department: int | None) -> str:
        key = ("dispatch", assignee, department)
        text = self._payload_cache.get(key)
        if text is None:
            values: dict[str, object] = {}
            if assignee is not None:
                values["assignee"] = self.w.user_names[assignee]
            if department is not None:
                values["department"] = self.w.department_names[department]
            text = self._payload_cache[key] = _payload(**values)
        return text

    def _escalation_due(self, at: datetime, level: EscalationLevel) -> datetime:
        amount, kind = ESCALATION_LIMITS[level]
        return sla.add_limit(at, amount, kind, self.cal)

    def _flush(self, flush: Flush) -> None:
        if not self._cases:
            return
        self.stats.cases += len(self._cases)
        self.stats.events += len(self._events)
        self.stats.extensions += len(self._exts)
        self.stats.escalations += len(self._escs)
        flush(self._cases, self._events, self._exts, self._escs)
        self._cases, self._events, self._exts, self._escs = [], [], [], []
