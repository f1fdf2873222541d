"""Hand-built history for the early-warning detector tests: a 4 × 4 lattice of square grids in two communities
(the left two columns 东社区, the right two 西社区), three categories, one user per role, and quick
builders of flat history and planted episodes (cases inserted through the models, no seed)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np

from models import Case
from models.enums import CalendarKind, CaseSource, CaseStatus, Role
from tests.factories import TINY, GridSpec, Layout, UserSpec, World, square

NOW = datetime(2026, 11, 25, 7, 0)
"""The run's moment: a Wednesday morning; the detectors read the days before."""
DAY = NOW.date()
_SIZE = 0.01
_seq = itertools.count(1)


def _grid(row: int, col: int, n: int) -> GridSpec:
    lon, lat = 118.0 + col * _SIZE, 33.0 + row * _SIZE
    return GridSpec(
        code=f"LT-0{1 + col // (n // 2)}-{row * n + col + 1:02d}",
        name=f"格{row}{col}",
        community=col // (n // 2),
        polygon=square(lon, lat, _SIZE),
        centroid=(lon + _SIZE / 2, lat + _SIZE / 2),
        worker="grid" if (row, col) == (0, 0) else None,
    )


def _category(code: str, name: str, limit: float, calendar: CalendarKind) -> dict[str, object]:
    return {
        "code": code,
        "name_zh": name,
        "name_en": code,
        "sla_limit": limit,
        "calendar": calendar,
        "response_limit": 1,
        "response_calendar": CalendarKind.natural_hours,
    }


def lattice(n: int) -> Layout:
    """An n × n lattice of square grids (index = row * n + col); the left half of the columns is 东社区
    (community 0), the right half 西社区."""
    return replace(
        _BASE,
        grids=tuple(_grid(r, c, n) for r in range(n) for c in range(n)),
        communities=tuple(
            {**spec, "outline": square(118.0 + _SIZE * n / 2 * i, 33.0, _SIZE * n / 2)}
            for i, spec in enumerate(_BASE.communities)
        ),
    )


_BASE = replace(
    TINY,
    communities=tuple(
        {
            "name": name,
            "code": f"LT-0{i + 1}",
            "outline": square(118.0 + 0.02 * i, 33.0, 0.02),
            "centroid_lon": 118.01 + 0.02 * i,
            "centroid_lat": 33.02,
        }
        for i, name in enumerate(("东社区", "西社区"))
    ),
    categories=(
        _category("ENV", "环境卫生", 3, CalendarKind.natural_days),
        _category("SAF", "安全隐患", 24, CalendarKind.natural_hours),
        _category("INF", "公共设施", 5, CalendarKind.natural_days),
    ),
    users=tuple(
        UserSpec(key, key, key, role, **scope)  # type: ignore[arg-type]
        for key, role, scope in [
            ("admin", Role.admin, {}),
            ("leader", Role.leader, {}),
            ("operator", Role.operator, {}),
            ("community", Role.community, {"community": 0}),
            ("community_b", Role.community, {"community": 1}),
            ("grid", Role.grid_worker, {"community": 0, "grid": "LT-01-01"}),
            ("department", Role.department, {"department": "CG"}),
        ]
    ),
)
LATTICE = lattice(4)
"""Grid index = row * 4 + col; grids 0, 1, 4, 5 … (columns 0–1) are 东社区 (community 0), the rest 西社区."""
LATTICE8 = lattice(8)
"""64 grids (columns 0–3 东社区): enough neighbours for Gi* to tell a cluster from its surroundings."""


def case(
    w: World,
    grid: int,
    category: str,
    at: datetime,
    *,
    status: CaseStatus = CaseStatus.closed,
    **fields: object,
) -> Case:
    """An unsaved case of grid `grid` (lattice index) reported at `at`; closed a day later unless told."""
    n = next(_seq)
    side = round(len(w.grid_ids) ** 0.5)
    community = w.community_ids[(grid % side) // (side // 2)]
    values: dict[str, object] = {
        "number": f"LT{at:%Y%m%d}-{n:05d}",
        "category_id": w.category[category],
        "title": "测试",
        "grid_id": w.grid_ids[grid],
        "community_id": community,
        "source": CaseSource.hotline,
        "status": status,
        "reported_at": at,
        "due_at": at + timedelta(days=3),
    }
    if status == CaseStatus.closed:
        values |= {"accepted_at": at + timedelta(hours=1), "resolved_at": at + timedelta(hours=20)}
        values["closed_at"] = at + timedelta(days=1)
    values.update(fields)
    return Case(**values)  # type: ignore[arg-type]


def flat_history(
    w: World,
    *,
    rate: float,
    category: str = "ENV",
    days: int = 70,
    grids: range | list[int] | None = None,
    seed: int = 1,
    end: date = DAY,
) -> list[Case]:
    """Poisson(`rate`) cases a day per grid over the `days` days before `end`, at random hours."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(days, 0, -1):
        day = datetime.combine(end - timedelta(days=d), datetime.min.time())
        for g in grids if grids is not None else range(len(w.grid_ids)):
            for _ in range(int(rng.poisson(rate))):
                out.append(case(w, g, category, day + timedelta(minutes=int(rng.integers(8 * 60, 20 * 60)))))
    return out


def save(w: World, cases: list[Case]) -> list[int]:
    """Insert `cases` and return their ids."""
    with w.session() as s:
        s.add_all(cases)
        s.commit()
        return [int(c.id) for c in cases]  # type: ignore[arg-type]
