"""Data for the grid map: boundaries from the database, one figure per grid or community, colour scales,
GeoJSON features, case points and the grid profile.

Every case figure comes from :mod:`dashboard.reporting.kpi` (the same formulas as every other page) and
volunteer coverage from :mod:`dashboard.volunteers.registry`; this module only joins them to the
boundaries and turns them into colours. What goes to the browser never grows with the number of cases:
one feature per grid or community, one aggregate per grid, and at most ``POINT_LIMIT`` case points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import sla
from dashboard.i18n import has, label, t
from dashboard.kernel.scope import Actor, case_filter, grid_filter, visit_filter
from dashboard.reporting import kpi
from dashboard.territory import geo
from models import Case, Category, Community, Grid, GridVisit, Subdistrict, User
from models.enums import POPULATION_FIELDS, Ageing, Role

Level = Literal["subdistrict", "community", "grid"]
RGBA = list[int]

POINT_LIMIT = 3000
"""Most case points sent to the browser (the most urgent first), whatever the number of cases."""

COORD_DIGITS = 5
"""Decimals kept in polygon coordinates sent to the browser (1e-5° ≈ 1 m)."""

NO_DATA: RGBA = [189, 195, 199, 150]
"""Grey for an area without data (no case in the period, no need, or outside the user's scope)."""

AGEING_COLOURS: dict[str, RGBA] = {
    Ageing.green.value: [39, 174, 96, 230],
    Ageing.yellow.value: [241, 196, 15, 240],
    Ageing.red.value: [231, 76, 60, 240],
    Ageing.black.value: [33, 33, 33, 240],
}

# ColorBrewer palettes (light → dark), RGB.
_REDS = [(254, 229, 217), (252, 174, 145), (251, 106, 74), (222, 45, 38), (165, 15, 21)]
_BLUES = [(239, 243, 255), (189, 215, 231), (107, 174, 214), (49, 130, 189), (8, 81, 156)]
_YLORRD = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]
_RDYLGN = [(215, 48, 39), (252, 141, 89), (254, 224, 139), (145, 207, 96), (26, 152, 80)]

CASE_ROLES = frozenset({Role.admin, Role.leader, Role.operator, Role.community, Role.grid_worker})
"""Roles whose case figures mean something on the map (others get zeros from the case scope)."""

VOLUNTEER_ROLES = frozenset(
    {Role.admin, Role.leader, Role.operator, Role.community, Role.grid_worker, Role.volunteer_manager}
)


# ---------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class FigureSpec:
    """A figure the map can colour areas by.

    `unit` names an i18n key ``map.unit.<unit>``; `palette` is ``reds`` / ``blues`` / ``ylorrd``
    (sequential, more is darker) or ``rdylgn`` (red below the target, green above); `period` says
    whether the period selector changes it.
    """

    key: str
    source: Literal["cases", "volunteers", "activity", "population"]
    unit: str
    palette: Literal["reds", "blues", "ylorrd", "rdylgn"]
    period: bool = False
    target: float | None = None
    digits: int = 0


RATE_TARGETS: dict[str, float] = {"on_time_rate": 0.90, "satisfaction_rate": 0.90, "coverage": 1.0}
"""Targets drawn in the legend: satisfaction ≥ 90 % (DESIGN §8), on-time 90 %, full volunteer coverage."""

_POPULATION_KEYS = ("households", "residents", "actual_residents", *POPULATION_FIELDS)

FIGURES: dict[str, FigureSpec] = {
    "open_now": FigureSpec("open_now", "cases", "cases", "reds"),
    "overdue_now": FigureSpec("overdue_now", "cases", "cases", "reds"),
    "per_1000": FigureSpec("per_1000", "cases", "per_1000", "reds", period=True, digits=1),
    "on_time_rate": FigureSpec(
        "on_time_rate", "cases", "percent", "rdylgn", True, RATE_TARGETS["on_time_rate"], 1
    ),
    "satisfaction_rate": FigureSpec(
        "satisfaction_rate", "cases", "percent", "rdylgn", True, RATE_TARGETS["satisfaction_rate"], 1
    ),
    "coverage": FigureSpec(
        "coverage", "volunteers", "percent", "rdylgn", target=RATE_TARGETS["coverage"], digits=0
    ),
    "days_since": FigureSpec("days_since", "activity", "days", "ylorrd"),
    **{
        f"pop_{name}": FigureSpec(
            f"pop_{name}", "population", "households" if name == "households" else "people", "blues"
        )
        for name in _POPULATION_KEYS
    },
}
DEFAULT_FIGURE = "open_now"


def figures_for(actor: Actor) -> list[str]:
    """The figures the actor may colour the map by, in menu order."""
    out: list[str] = []
    for key, spec in FIGURES.items():
        if spec.source == "cases" and actor.role not in CASE_ROLES:
            continue
        if spec.source == "volunteers" and actor.role not in VOLUNTEER_ROLES:
            continue
        out.append(key)
    return out


def worst_first(figure: str) -> bool:
    """Whether a ranking by `figure` should sort high values first (counts, days) or low first (rates)."""
    return FIGURES[figure].palette != "rdylgn"


def figure_label(figure: str, lang: str | None = None) -> str:
    if figure.startswith("pop_"):
        name = figure.removeprefix("pop_")
        return (
            label("population", name, lang) if has(f"enum.population.{name}") else t(f"map.pop.{name}", lang)
        )
    return t(f"map.fig.{figure}", lang)


def cases_per_1000(reported: float | None, actual: float | None, registered: float | None) -> float | None:
    """Cases reported in the period per 1,000 residents: the people actually living there (实有人口) when
    known, else the registered residents (户籍人口); None without either."""
    base = actual if actual and not pd.isna(actual) else registered
    if reported is None or not base or pd.isna(base) or pd.isna(reported):
        return None
    return float(reported) / float(base) * 1000.0


def format_value(figure: str, value: float | None, lang: str | None = None, unit: bool = True) -> str:
    """A figure's value as text with its unit ('12 件', '91.2%', '3.4 件/千人'); '—' when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    spec = FIGURES[figure]
    if spec.unit == "percent":
        return f"{value * 100:.{spec.digits}f}%"
    text = f"{value:,.{spec.digits}f}"
    return f"{text} {t(f'map.unit.{spec.unit}', lang)}" if unit else text


# ---------------------------------------------------------------------------------------------- periods

PERIODS: tuple[str, ...] = ("30d", "90d", "month", "last_month", "quarter", "365d")
DEFAULT_PERIOD = "30d"


def period_for(token: str, now: datetime | None = None) -> kpi.Period:
    """The period a selector token stands for (unknown tokens fall back to the last 30 days)."""
    now = now or clock.now()
    match token:
        case "90d":
            return kpi.last_days(90, now)
        case "365d":
            return kpi.last_days(365, now)
        case "month":
            return kpi.month_period(now.date()).clipped(now)
        case "last_month":
            return kpi.month_period(now.date()).previous()
        case "quarter":
            return kpi.quarter_period(now.date()).clipped(now)
        case _:
            return kpi.last_days(30, now)


# ---------------------------------------------------------------------------------------------- territory


@dataclass(frozen=True)
class Area:
    """A sub-district, community or grid as the map draws it (plain values, cache friendly)."""

    id: int
    code: str
    name: str
    level: Level
    geometry: dict[str, Any]
    label: tuple[float, float]
    bounds: tuple[float, float, float, float]
    parent: str | None = None  # community code of a grid, sub-district code of a community
    in_scope: bool = True
    worker: str = ""
    worker_id: int | None = None
    population: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Territory:
    subdistricts: list[Area]
    communities: list[Area]
    grids: list[Area]

    def community(self, code: str | None) -> Area | None:
        return next((c for c in self.communities if c.code == code), None)

    def grid(self, code: str | None) -> Area | None:
        return next((g for g in self.grids if g.code == code), None)

    def grids_of(self, community_code: str) -> list[Area]:
        return [g for g in self.grids if g.parent == community_code]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return _union_bounds(a.bounds for a in (self.subdistricts or self.communities or self.grids))


def _union_bounds(bounds: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    items = list(bounds)
    if not items:
        return (118.28, 33.96, 118.28, 33.96)
    return (
        min(b[0] for b in items),
        min(b[1] for b in items),
        max(b[2] for b in items),
        max(b[3] for b in items),
    )


def _area(ident: int, code: str, name: str, level: Level, text: str, **extra: Any) -> Area:
    shape = geo.from_geojson(text)
    lon, lat = geo.label_point(shape)
    return Area(
        id=ident,
        code=code,
        name=name,
        level=level,
        geometry=json.loads(geo.to_geojson(shape, COORD_DIGITS)),
        label=(round(lon, COORD_DIGITS), round(lat, COORD_DIGITS)),
        bounds=tuple(round(v, COORD_DIGITS) for v in shape.bounds),  # type: ignore[arg-type]
        **extra,
    )


def load_territory(session: Session, actor: Actor) -> Territory:
    """Boundaries of the sub-district(s), communities and grids, read from the database.

    Every area is returned (the map shows the whole territory for orientation); ``in_scope`` says whether
    the actor may see its figures, and grids outside the scope carry no population or worker.
    """
    subs = session.exec(select(Subdistrict.id, Subdistrict.code, Subdistrict.name, Subdistrict.outline)).all()  # type: ignore[call-overload]
    sub_code = {sid: code for sid, code, _, _ in subs}
    scoped = set(session.scalars(select(Grid.id).where(grid_filter(actor))).all())
    rows = session.exec(  # type: ignore[call-overload]
        select(Grid, Community.code, User.display_name)
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .order_by(Grid.code)
    ).all()
    grids: list[Area] = []
    for grid, community_code, worker in rows:
        in_scope = grid.id in scoped
        population = {k: int(getattr(grid, k) or 0) for k in _POPULATION_KEYS} if in_scope else {}
        grids.append(
            _area(
                grid.id,
                grid.code,
                grid.name,
                "grid",
                grid.polygon,
                parent=community_code,
                in_scope=in_scope,
                worker=(worker or "") if in_scope else "",
                worker_id=grid.worker_id if in_scope else None,
                population=population,
            )
        )
    comm_rows = session.exec(  # type: ignore[call-overload]
        select(
            Community.id, Community.code, Community.name, Community.outline, Community.subdistrict_id
        ).order_by(Community.code)
    ).all()
    communities: list[Area] = []
    for cid, code, name, outline, sid in comm_rows:
        own = [g for g in grids if g.parent == code]
        in_scope = community_in_scope(actor, cid) and bool(own) and all(g.in_scope for g in own)
        population = (
            {k: sum(g.population.get(k, 0) for g in own) for k in _POPULATION_KEYS} if in_scope else {}
        )
        communities.append(
            _area(
                cid,
                code,
                name,
                "community",
                outline,
                parent=sub_code.get(sid),
                in_scope=in_scope,
                population=population,
            )
        )
    subdistricts = [
        _area(sid, code, name, "subdistrict", outline, in_scope=actor.reads_all)
        for sid, code, name, outline in subs
    ]
    return Territory(subdistricts, communities, grids)


def community_in_scope(actor: Actor, community_id: int) -> bool:
    """Whether the actor may see figures of a whole community (a grid worker sees only their grid)."""
    if actor.role == Role.grid_worker:
        return False
    if actor.role == Role.community:
        return actor.community_id == community_id
    return True


# ---------------------------------------------------------------------------------------------- values


_AGEING = ["green", "yellow", "red", "black"]
VALUE_COLUMNS = [
    *kpi.COUNT_COLUMNS,
    *kpi.RATE_COLUMNS,
    *_AGEING,
    "per_1000",
    "need",
    "supply",
    "coverage",
    "days_since",
    "last_case_at",
    "last_visit_at",
]
"""Columns of :func:`grid_values` and :func:`community_values` besides ``pop_<field>``: every count and
rate of ``kpi.Figures`` (open_now and overdue_now are current, the rest over the period), open cases by
ageing colour, per-1,000, volunteer need/supply/coverage and the last activity."""

_ALL_COLUMNS = [*VALUE_COLUMNS, *(f"pop_{k}" for k in _POPULATION_KEYS)]
_FLOAT_COLUMNS = [*kpi.RATE_COLUMNS, "per_1000", "need", "supply", "coverage", "days_since"]


def _coverage(session: Session, actor: Actor, now: datetime, cells: pd.DataFrame | None) -> pd.DataFrame:
    """Volunteer need, supply and coverage per grid (DESIGN §7), from the volunteers service."""
    if actor.role not in VOLUNTEER_ROLES:
        return pd.DataFrame(columns=["grid_id", "need", "supply", "coverage"])
    from dashboard.volunteers import registry as volunteers

    cov = volunteers.coverage_by_grid(session, actor, now, cells=cells)
    return cov[["grid_id", "need", "supply", "coverage"]]


def coverage_cells(session: Session, actor: Actor, now: datetime) -> pd.DataFrame | None:
    """The volunteer coverage matrix for both map levels (computed once), None for roles without it."""
    if actor.role not in VOLUNTEER_ROLES:
        return None
    from dashboard.volunteers import registry as volunteers

    return volunteers.coverage_matrix(session, actor, now)


def grid_values(
    session: Session,
    actor: Actor,
    period: kpi.Period,
    *,
    blind_days: int = 30,
    now: datetime | None = None,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every map figure per grid in the actor's scope (index: grid id), from kpi.py and volunteers.py.

    Columns: VALUE_COLUMNS plus ``pop_<field>`` for households, residents and the population groups.
    Rates and per-1,000 are NaN where their denominator is zero. `cells`: :func:`coverage_cells` when the
    caller computes both levels (else computed here).
    """
    now = now or clock.now()
    stmt = select(Grid.id, *(getattr(Grid, k) for k in _POPULATION_KEYS)).where(grid_filter(actor))
    df = pd.DataFrame(session.exec(stmt).all(), columns=["grid_id", *(f"pop_{k}" for k in _POPULATION_KEYS)])  # type: ignore[call-overload]
    df = df.set_index("grid_id")
    if actor.role in CASE_ROLES:
        figs = kpi.figures_by(session, actor, period, "grid", now=now).set_index("key")
        df = df.join(figs[[*kpi.COUNT_COLUMNS, *kpi.RATE_COLUMNS]], how="left")
        ageing = kpi.open_counts_by(session, actor, "grid", now=now).set_index("key")
        df = df.join(ageing[_AGEING], how="left")
        for col in (*kpi.COUNT_COLUMNS, *_AGEING):
            df[col] = df[col].fillna(0).astype("int64")
        df["per_1000"] = [
            cases_per_1000(r, a, p)
            for r, a, p in zip(df["reported"], df["pop_actual_residents"], df["pop_residents"], strict=True)
        ]
    blind = kpi.blind_spots(session, actor, blind_days, now).set_index("grid_id")
    df = df.join(blind[["last_case_at", "last_visit_at", "days_since"]], how="left")
    cov = _coverage(session, actor, now, cells).set_index("grid_id")
    df = df.join(cov, how="left")
    df = df.reindex(columns=_ALL_COLUMNS)
    for col in _FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    df.index.name = "grid_id"
    return df


def community_values(
    session: Session,
    actor: Actor,
    period: kpi.Period,
    grids: pd.DataFrame,
    territory: Territory,
    *,
    now: datetime | None = None,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every map figure per community whose figures the actor may see (index: community id).

    `grids` is :func:`grid_values` of the same actor and period. Case figures are the sums of the
    grids' ``kpi.figures_by(..., "grid")`` counts (a case's community is its grid's), with the rates of
    ``kpi.RATE_COLUMNS`` taken over those sums — one query set instead of two; population is the sum of the grids;
    coverage from ``volunteers.coverage_by_community``; days since activity is the longest of the
    community's grids (so a community with a neglected grid stands out).
    """
    now = now or clock.now()
    comm_of = {g.id: c.id for c in territory.communities if c.in_scope for g in territory.grids_of(c.code)}
    ids = sorted(set(comm_of.values()))
    df = pd.DataFrame(index=pd.Index(ids, name="community_id"))
    if not ids:
        return df.reindex(columns=_ALL_COLUMNS)
    part = grids[grids.index.isin(comm_of)].copy()
    part["community_id"] = part.index.map(comm_of)
    sums = part.groupby("community_id")[[f"pop_{k}" for k in _POPULATION_KEYS]].sum()
    df = df.join(sums, how="left")
    if actor.role in CASE_ROLES:
        counts = part.groupby("community_id")[[*kpi.COUNT_COLUMNS, *_AGEING]].sum()
        df = df.join(counts.astype("int64"), how="left")
        for rate, (num, den) in kpi.RATE_COLUMNS.items():
            df[rate] = df[num] / df[den].where(df[den] > 0)
        df["per_1000"] = [
            cases_per_1000(r, a, p)
            for r, a, p in zip(df["reported"], df["pop_actual_residents"], df["pop_residents"], strict=True)
        ]
    if actor.role in VOLUNTEER_ROLES:
        from dashboard.volunteers import registry as volunteers

        cov = volunteers.coverage_by_community(session, actor, now, cells=cells).set_index("community_id")
        df = df.join(cov[["need", "supply", "coverage"]], how="left")
    df["days_since"] = part["days_since"].groupby(part["community_id"]).max()
    df["last_case_at"] = part["last_case_at"].groupby(part["community_id"]).max()
    df["last_visit_at"] = part["last_visit_at"].groupby(part["community_id"]).max()
    df = df.reindex(columns=_ALL_COLUMNS)
    for col in _FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    return df


def _value(values: pd.DataFrame, ident: int, column: str) -> float | None:
    if ident not in values.index or column not in values.columns:
        return None
    v = values.at[ident, column]
    if v is None or pd.isna(v):
        return None
    return float(v)


# ---------------------------------------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    """A colour scale: colours interpolated linearly between stops; values beyond the ends clamp."""

    figure: str
    stops: tuple[tuple[float, tuple[int, int, int]], ...]
    target: float | None = None
    alpha: int = 200

    @property
    def kind(self) -> Literal["sequential", "diverging"]:
        return "diverging" if FIGURES[self.figure].palette == "rdylgn" else "sequential"

    @property
    def domain(self) -> tuple[float, float]:
        return self.stops[0][0], self.stops[-1][0]

    def colour(self, value: float | None) -> RGBA:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return list(NO_DATA)
        stops = self.stops
        if value <= stops[0][0]:
            return [*stops[0][1], self.alpha]
        for (v0, c0), (v1, c1) in zip(stops, stops[1:], strict=False):
            if value <= v1:
                f = 0.0 if v1 == v0 else (value - v0) / (v1 - v0)
                return [round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True)] + [self.alpha]
        return [*stops[-1][1], self.alpha]


def _nice_ceiling(value: float) -> float:
    """The next 'nice' number ≥ value (1, 2, 2.5, 5 × 10^n); at least 1."""
    if value <= 1:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= value:
            return float(m * exp)
    return float(10 * exp)


def make_scale(figure: str, values: Iterable[float | None], *, blind_days: int = 30) -> Scale:
    """The colour scale for `figure` over the values on screen.

    Counts and population run from 0 to a nice ceiling of the largest value (light → dark); rates
    use a fixed red-yellow-green scale centred on the target, so colours mean the same in every
    period; days since activity turn dark at the blind-spot threshold.
    """
    spec = FIGURES[figure]
    if figure in ("on_time_rate", "satisfaction_rate"):
        target = spec.target or 0.9
        points = (target - 0.2, target - 0.1, target, (target + 1) / 2, 1.0)
        return Scale(figure, tuple(zip(points, _RDYLGN, strict=True)), target)
    if figure == "coverage":
        return Scale(figure, tuple(zip((0.0, 0.25, 0.5, 0.75, 1.0), _RDYLGN, strict=True)), spec.target)
    if figure == "days_since":
        d = float(blind_days)
        return Scale(figure, tuple(zip((0.0, d / 4, d / 2, d, 2 * d), _YLORRD, strict=True)), d)
    present = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    top = _nice_ceiling(max(present, default=0.0))
    palette = _BLUES if spec.palette == "blues" else _REDS
    return Scale(figure, tuple((top * i / 4, c) for i, c in enumerate(palette)))


def legend_ticks(scale: Scale, lang: str | None = None) -> list[tuple[float, str]]:
    """(position 0–1 along the bar, label) for the legend: both ends, the middle, and the target."""
    lo, hi = scale.domain
    span = (hi - lo) or 1.0
    marks = [lo, (lo + hi) / 2, hi]
    if scale.target is not None and scale.target not in marks:
        marks.append(scale.target)
    out = [((v - lo) / span, format_value(scale.figure, v, lang, unit=False)) for v in sorted(marks)]
    out[-1] = (out[-1][0], out[-1][1] + ("+" if FIGURES[scale.figure].unit != "percent" else ""))
    return out


# ---------------------------------------------------------------------------------------------- features


def _tip(area: Area, figure: str, values: pd.DataFrame, actor: Actor, lang: str | None) -> str:
    lines = [f"{area.name}（{area.code}）"]
    if area.level == "grid" and area.in_scope:
        lines.append(t("map.tip.worker", lang, name=area.worker or t("map.profile.no_worker", lang)))
    if not area.in_scope:
        lines.append(t("map.tip.out_of_scope", lang))
        return "\n".join(lines)
    if actor.role in CASE_ROLES:
        lines.append(
            t(
                "map.tip.open",
                lang,
                open=f"{int(_value(values, area.id, 'open_now') or 0):,}",
                overdue=f"{int(_value(values, area.id, 'overdue_now') or 0):,}",
            )
        )
    shown = {"open_now", "overdue_now"}
    for key in ("satisfaction_rate", "coverage", "days_since", figure):
        if key in shown or key not in figures_for(actor):
            continue
        shown.add(key)
        lines.append(f"{figure_label(key, lang)}：{format_value(key, _value(values, area.id, key), lang)}")
    return "\n".join(lines)


def features(
    areas: Sequence[Area],
    values: pd.DataFrame,
    figure: str,
    scale: Scale,
    actor: Actor,
    lang: str | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of `areas` coloured by `figure`.

    Each feature's properties: code, name, level, parent, value (float or None), text (value with unit),
    fill (RGBA), tip (plain-text tooltip; the map's tooltip shows ``{tip}``), in_scope.
    """
    out = []
    for area in areas:
        value = _value(values, area.id, figure) if area.in_scope else None
        out.append(
            {
                "type": "Feature",
                "geometry": area.geometry,
                "properties": {
                    "code": area.code,
                    "name": area.name,
                    "level": area.level,
                    "parent": area.parent,
                    "value": value,
                    "text": format_value(figure, value, lang),
                    "fill": scale.colour(value) if area.in_scope else list(NO_DATA),
                    "tip": _tip(area, figure, values, actor, lang),
                    "in_scope": area.in_scope,
                },
            }
        )
    return {"type": "FeatureCollection", "features": out}


def outline_features(areas: Sequence[Area]) -> dict[str, Any]:
    """Boundaries only (code, name), for context and outline layers."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": a.geometry,
                "properties": {
                    "code": a.code,
                    "name": a.name,
                    "level": a.level,
                    "parent": a.parent,
                    "tip": f"{a.name}（{a.code}）",
                },
            }
            for a in areas
        ],
    }


def _worst_ageing(row: dict[str, float]) -> str:
    for colour in ("black", "red", "yellow"):
        if row.get(colour):
            return colour
    return "green"


def case_aggregates(
    grids: Sequence[Area], values: pd.DataFrame, max_radius_m: float = 180.0
) -> list[dict[str, Any]]:
    """One circle per grid with open cases: position at the grid's label point, area ∝ open cases,
    colour of the worst ageing present. This is what the sub-district view shows instead of points."""
    rows = [(g, values.loc[g.id].to_dict()) for g in grids if g.in_scope and g.id in values.index]
    rows = [(g, r) for g, r in rows if pd.notna(r.get("open_now")) and r["open_now"] > 0]
    top = max((r["open_now"] for _, r in rows), default=1)
    return [
        {
            "position": list(g.label),
            "code": g.code,
            "open": int(r["open_now"]),
            "radius": round(max_radius_m * math.sqrt(r["open_now"] / top), 1),
            "colour": AGEING_COLOURS[_worst_ageing(r)],
        }
        for g, r in rows
    ]


# ---------------------------------------------------------------------------------------------- points


def case_points(
    session: Session,
    actor: Actor,
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    limit: int = POINT_LIMIT,
    now: datetime | None = None,
    lang: str | None = None,
) -> list[dict[str, Any]]:
    """Open cases (still being handled) with coordinates, most urgent first, at most `limit` of them.

    The query is limited in SQL (``ORDER BY due_at LIMIT``), so the number of cases in the database does
    not change what is read or sent. Each point: position, number, category, status, ageing, colour, tip.
    """
    now = now or clock.now()
    name_col = Category.name_en if lang == "en" else Category.name_zh
    conds = [
        kpi.is_active(),
        kpi.not_duplicate(),
        Case.lon.is_not(None),
        Case.lat.is_not(None),
        case_filter(actor),
    ]
    if community_id is not None:
        conds.append(Case.community_id == community_id)
    if grid_id is not None:
        conds.append(Case.grid_id == grid_id)
    stmt = (
        select(
            Case.number,
            Case.lon,
            Case.lat,
            Case.status,
            Case.warn_at,
            Case.due_at,
            Case.black_at,
            Category.code,
            name_col,
        )
        .join(Category, Category.id == Case.category_id)
        .where(and_(*conds))
        .order_by(Case.due_at.is_(None), Case.due_at, Case.id)
        .limit(limit)
    )
    out = []
    for number, lon, lat, status, warn_at, due_at, black_at, cat_code, cat_name in session.exec(stmt).all():  # type: ignore[call-overload]
        colour = sla.ageing(now, warn_at, due_at, black_at)
        key = colour.value if colour else "green"
        due = f"{due_at:%Y-%m-%d %H:%M}" if due_at else "—"
        out.append(
            {
                "position": [round(lon, 6), round(lat, 6)],
                "number": number,
                "category": cat_code,
                "ageing": key,
                "colour": AGEING_COLOURS[key],
                "tip": "\n".join(
                    [
                        f"{number} · {cat_name}",
                        f"{label('status', status, lang)} · {label('ageing', key, lang)}",
                        t("map.tip.due", lang, due=due),
                    ]
                ),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------- view


def fit_view(
    bounds: tuple[float, float, float, float],
    width: int = 1000,
    height: int = 640,
    padding: float = 0.1,
    max_zoom: float = 17.0,
) -> dict[str, float]:
    """Centre and Web-Mercator zoom that fit `bounds` (lon/lat) into a `width`×`height` pixel map."""
    west, south, east, north = bounds

    def merc_y(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max((east - west) / 360.0, 1e-9)
    dy = max((merc_y(north) - merc_y(south)) / (2 * math.pi), 1e-9)
    usable = 1 - 2 * padding
    zoom = min(math.log2(width * usable / (512 * dx)), math.log2(height * usable / (512 * dy)), max_zoom)
    centre_y = (merc_y(north) + merc_y(south)) / 2
    centre_lat = math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2)
    return {
        "longitude": round((west + east) / 2, 6),
        "latitude": round(centre_lat, 6),
        "zoom": round(zoom, 2),
    }


# ---------------------------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class GridProfile:
    """What the panel beside the map shows for one grid."""

    code: str
    name: str
    community_code: str
    community_name: str
    worker: str
    population: dict[str, int]
    values: dict[str, Any]
    open_by_category: pd.DataFrame  # code, name, open_now, overdue_now, green, yellow, red, black
    comparison: pd.DataFrame  # level, name, on_time_rate, satisfaction_rate (NaN: not in scope)
    volunteers: pd.DataFrame  # skill, need, supply, gap
    last_visit_at: datetime | None
    visits_30d: int


def grid_profile(
    session: Session,
    actor: Actor,
    territory: Territory,
    grid_code: str,
    period: kpi.Period,
    values: pd.DataFrame,
    *,
    now: datetime | None = None,
    lang: str | None = None,
) -> GridProfile | None:
    """The profile of a grid in the actor's scope, or None when it is unknown or outside the scope.

    `values` is :func:`grid_values` for the same actor and period (already computed for the map).
    The community and sub-district comparisons are shown only where the actor's scope covers them.
    """
    now = now or clock.now()
    grid = territory.grid(grid_code)
    if grid is None or not grid.in_scope:
        return None
    community = territory.community(grid.parent)
    row = values.loc[grid.id].to_dict() if grid.id in values.index else {}
    by_cat = pd.DataFrame(columns=["code", "name", *kpi.OPEN_COUNT_COLUMNS])
    comparison_rows: list[dict[str, Any]] = []
    if actor.role in CASE_ROLES:
        counts = kpi.open_counts_by(session, actor, "category", grid_id=grid.id, now=now)
        cats = pd.DataFrame(
            session.exec(
                select(Category.id, Category.code, Category.name_en if lang == "en" else Category.name_zh)
            ).all(),  # type: ignore[call-overload]
            columns=["key", "code", "name"],
        )
        by_cat = counts.merge(cats, on="key", how="left").drop(columns="key")
        by_cat = (
            by_cat[["code", "name", *kpi.OPEN_COUNT_COLUMNS]]
            .sort_values(["overdue_now", "open_now"], ascending=False)
            .reset_index(drop=True)
        )
        own = kpi.figures(session, actor, period, grid_id=grid.id, now=now)
        comparison_rows.append(
            {
                "level": "grid",
                "name": grid.name,
                "on_time_rate": own.on_time_rate,
                "satisfaction_rate": own.satisfaction_rate,
            }
        )
        if community is not None:
            f = (
                kpi.figures(session, actor, period, community_id=community.id, now=now)
                if community.in_scope
                else None
            )
            comparison_rows.append(
                {
                    "level": "community",
                    "name": community.name,
                    "on_time_rate": f.on_time_rate if f else None,
                    "satisfaction_rate": f.satisfaction_rate if f else None,
                }
            )
        if territory.subdistricts:
            f = kpi.figures(session, actor, period, now=now) if actor.reads_all else None
            comparison_rows.append(
                {
                    "level": "subdistrict",
                    "name": territory.subdistricts[0].name,
                    "on_time_rate": f.on_time_rate if f else None,
                    "satisfaction_rate": f.satisfaction_rate if f else None,
                }
            )
    comparison = pd.DataFrame(comparison_rows, columns=["level", "name", "on_time_rate", "satisfaction_rate"])
    for col in ("on_time_rate", "satisfaction_rate"):
        comparison[col] = comparison[col].astype("float64")
    vols = pd.DataFrame(columns=["skill", "need", "supply", "gap"])
    if actor.role in VOLUNTEER_ROLES:
        from dashboard.volunteers import registry as volunteers

        cells = volunteers.coverage_matrix(session, actor, now)
        vols = cells.loc[cells["grid_id"] == grid.id, ["skill", "need", "supply", "gap"]].reset_index(
            drop=True
        )
    recent = case((GridVisit.at >= now - timedelta(days=30), 1), else_=0)
    last_visit, visits = session.exec(  # type: ignore[call-overload]
        select(func.max(GridVisit.at), func.sum(recent)).where(
            GridVisit.grid_id == grid.id, visit_filter(actor)
        )
    ).one()
    return GridProfile(
        code=grid.code,
        name=grid.name,
        community_code=community.code if community else "",
        community_name=community.name if community else "",
        worker=grid.worker,
        population=dict(grid.population),
        values=row,
        open_by_category=by_cat,
        comparison=comparison,
        volunteers=vols,
        last_visit_at=last_visit,
        visits_30d=int(visits or 0),
    )


def skill_label(skill: str, lang: str | None = None) -> str:
    """A volunteer skill's name in the UI language (skills are stored as their Chinese names)."""
    key = f"enum.skill.{skill}"
    return t(key, lang) if has(key, lang or "zh") else skill


# ---------------------------------------------------------------------------------------------- scene

OWN_GRID_LINE: RGBA = [192, 57, 43, 255]
SELECTED_LINE: RGBA = [41, 128, 185, 255]


@dataclass(frozen=True)
class MapScene:
    """Everything one map view draws, as plain JSON-ready data (see ``dashboard.ui.maps.scene_deck``).

    `areas` is the coloured, clickable layer (``areas_layer`` is "communities" or "grids"); `others` are
    the other communities (clickable, uncoloured) around a community; `context` are grids outside the
    actor's scope (grey, not clickable); `grid_lines` thin grid boundaries over coloured communities;
    `outlines` the community boundaries; `highlight` the selected
    grid and the grid worker's own grid; `aggregates` one circle per grid (sub-district level); `points`
    open cases (community and grid level).
    """

    level: Level
    figure: str
    scale: Scale
    areas: dict[str, Any]
    areas_layer: Literal["communities", "grids"]
    outlines: dict[str, Any]
    view: dict[str, float]
    others: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    grid_lines: dict[str, Any] | None = None
    highlight: dict[str, Any] | None = None
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)


def _highlight(territory: Territory, actor: Actor, selected: Area | None) -> dict[str, Any] | None:
    """Outlines of the selected grid (dark blue) and of a grid worker's own grid (red)."""
    own = next((g for g in territory.grids if g.id == actor.grid_id), None) if actor.grid_id else None
    areas = [own] if own is not None else []
    if selected is not None and (own is None or selected.code != own.code):
        areas.append(selected)
    feats = [(g, OWN_GRID_LINE if g is own else SELECTED_LINE) for g in areas]
    if not feats:
        return None
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": a.geometry, "properties": {"code": a.code, "line": colour}}
            for a, colour in feats
        ],
    }


def build_scene(
    territory: Territory,
    grid_vals: pd.DataFrame,
    community_vals: pd.DataFrame,
    figure: str,
    actor: Actor,
    *,
    community: str | None = None,
    grid: str | None = None,
    unit: Literal["community", "grid"] = "community",
    points: list[dict[str, Any]] | None = None,
    lang: str | None = None,
    blind_days: int = 30,
    size: tuple[int, int] = (1000, 640),
) -> MapScene:
    """The map at sub-district level (no community), community level, or grid level (grid given).

    At sub-district level `unit` chooses whether communities or grids are coloured; clicking either
    drills into a community. The view fits the sub-district, the community or the grid.
    """
    selected = territory.grid(grid) if grid else None
    comm = territory.community(selected.parent if selected else community)
    outlines = outline_features(territory.communities)
    highlight = _highlight(territory, actor, selected)
    if comm is None:
        if unit == "grid":
            shown = [g for g in territory.grids if g.in_scope]
            scale = make_scale(
                figure, [_value(grid_vals, g.id, figure) for g in shown], blind_days=blind_days
            )
            hidden = [g for g in territory.grids if not g.in_scope]
            return MapScene(
                "subdistrict",
                figure,
                scale,
                features(shown, grid_vals, figure, scale, actor, lang),
                "grids",
                outlines,
                fit_view(territory.bounds, *size),
                context=outline_features(hidden) if hidden else None,
                highlight=highlight,
                aggregates=case_aggregates(shown, grid_vals),
            )
        shown_c = territory.communities
        scale = make_scale(
            figure,
            [_value(community_vals, c.id, figure) for c in shown_c if c.in_scope],
            blind_days=blind_days,
        )
        return MapScene(
            "subdistrict",
            figure,
            scale,
            features(shown_c, community_vals, figure, scale, actor, lang),
            "communities",
            outlines,
            fit_view(territory.bounds, *size),
            grid_lines=outline_features(territory.grids),
            highlight=highlight,
            aggregates=case_aggregates(territory.grids, grid_vals),
        )
    own = territory.grids_of(comm.code)
    shown = [g for g in own if g.in_scope]
    hidden = [g for g in own if not g.in_scope]
    scale = make_scale(figure, [_value(grid_vals, g.id, figure) for g in shown], blind_days=blind_days)
    others = [c for c in territory.communities if c.code != comm.code]
    return MapScene(
        "grid" if selected else "community",
        figure,
        scale,
        features(shown, grid_vals, figure, scale, actor, lang),
        "grids",
        outlines,
        fit_view(selected.bounds, *size, padding=0.3) if selected else fit_view(comm.bounds, *size),
        others=outline_features(others) if others else None,
        context=outline_features(hidden) if hidden else None,
        highlight=highlight,
        points=points or [],
    )


def ranking(areas: dict[str, Any], figure: str, limit: int | None = 10) -> pd.DataFrame:
    """The coloured areas of a scene ranked by `figure`, the ones needing attention first.

    Columns: code, name, value, text. Areas without a value (or outside the scope) are left out.
    """
    rows = [
        {k: f["properties"][k] for k in ("code", "name", "value", "text")}
        for f in areas["features"]
        if f["properties"].get("in_scope") and f["properties"].get("value") is not None
    ]
    df = pd.DataFrame(rows, columns=["code", "name", "value", "text"])
    df = df.sort_values(["value", "code"], ascending=[not worst_first(figure), True]).reset_index(drop=True)
    return df.head(limit) if limit else df
