"""Stored alerts for the early-warning screen tests: what a morning run leaves in a CASE_LOOP world (one alert
of each kind, case risks and the run's row with its hotspot layer), written through the models directly so
the screens are tested on known rows without running the detectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from models import Alert, AlertRun, CaseRisk
from models.enums import AlertKind, AlertScope, CaseStatus
from tests.factories import CASE_LOOP_NOW, World, put_case

DAY = CASE_LOOP_NOW.date()


@dataclass(frozen=True)
class Planted:
    """The ids of what :func:`plant` wrote: alerts by kind, and the cases by role in the story."""

    alerts: dict[str, int]
    spike_cases: list[int]  # two open ENV cases in XL-01-01 (幸福社区)
    risky_case: int  # an open SAF case in XL-02-01 (和平社区), 82 % likely to be late
    numbers: dict[int, str]


def _ids(values: list[int]) -> str:
    return "|" + "|".join(str(v) for v in sorted(values)) + "|"


def _alert(w: World, kind: AlertKind, scope: AlertScope, code: str, name: str, **fields: object) -> Alert:
    at = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=6)
    values: dict[str, object] = {
        "day": DAY,
        "key": f"{kind}|{scope}|{code}",
        "kind": kind,
        "scope_type": scope,
        "scope_code": code,
        "scope_name": name,
        "since": DAY - timedelta(days=1),
        "computed_at": at,
    }
    values.update(fields)
    return Alert(**values)  # type: ignore[arg-type]


def plant(w: World, *, day: date = DAY) -> Planted:
    """One spike and one repeat in 幸福社区 (XL-01-01), one hotspot and one risk in 和平社区 (XL-02-01), risk
    scores for two cases and a finished run of `day` with its hotspot layer for SAF."""
    with w.session() as s:
        spike_cases = [
            put_case(s, w, CaseStatus.dispatched, grid=0, number=f"XL20260309-00{i}").id for i in (11, 12)
        ]
        risky = put_case(
            s, w, CaseStatus.in_progress, grid=2, category=w.category["SAF"], number="XL20260309-0013"
        )
        numbers = {cid: f"XL20260309-00{i}" for cid, i in zip(spike_cases, (11, 12), strict=True)}
        numbers[int(risky.id)] = "XL20260309-0013"  # type: ignore[arg-type]
        g1, g2, g3 = w.grid_ids
        c1, c2 = w.community_ids
        daily = [
            {"day": (day - timedelta(days=6 - i)).isoformat(), "observed": o, "expected": 1.2}
            for i, o in enumerate([1, 2, 1, 1, 2, 5, 7])
        ]
        alerts = [
            _alert(
                w,
                AlertKind.spike,
                AlertScope.grid,
                "XL-01-01",
                "第1网格",
                category_id=w.category["ENV"],
                grid_ids=_ids([g1]),
                community_ids=_ids([c1]),
                observed=12.0,
                expected=2.4,
                score=0.0004,
                case_ids=json.dumps(spike_cases),
                evidence=json.dumps({"level": "grid", "window_days": 2, "daily": daily}),
            ),
            _alert(
                w,
                AlertKind.repeat,
                AlertScope.building,
                "XL-01-01:幸福路8号3号楼",
                "幸福路8号3号楼",
                category_id=w.category["ENV"],
                grid_ids=_ids([g1]),
                community_ids=_ids([c1]),
                observed=4.0,
                expected=3.0,
                score=1.0,
                case_ids=json.dumps(spike_cases),
                evidence=json.dumps(
                    {
                        "rule": "building",
                        "window_days": 90,
                        "threshold": 3,
                        "addresses": ["幸福路8号3号楼***"],
                    },
                    ensure_ascii=False,
                ),
            ),
            _alert(
                w,
                AlertKind.hotspot,
                AlertScope.grid,
                "XL-02-01",
                "第3网格",
                category_id=w.category["SAF"],
                grid_ids=_ids([g3]),
                community_ids=_ids([c2]),
                observed=9.0,
                expected=3.1,
                score=0.004,
                case_ids=json.dumps([int(risky.id)]),  # type: ignore[arg-type]
                evidence=json.dumps(
                    {
                        "window_days": 30,
                        "grids": [
                            {
                                "grid_id": g3,
                                "code": "XL-02-01",
                                "name": "第3网格",
                                "count": 9,
                                "z": 2.9,
                                "p": 0.004,
                            }
                        ],
                    },
                    ensure_ascii=False,
                ),
            ),
            _alert(
                w,
                AlertKind.risk,
                AlertScope.case,
                "XL20260309-0013",
                "XL20260309-0013",
                category_id=w.category["SAF"],
                grid_ids=_ids([g3]),
                community_ids=_ids([c2]),
                observed=1.0,
                expected=0.0,
                score=0.82,
                case_ids=json.dumps([int(risky.id)]),  # type: ignore[arg-type]
                evidence=json.dumps(
                    {
                        "due_at": (CASE_LOOP_NOW + timedelta(hours=5)).isoformat(),
                        "probability": 0.82,
                        "factors": [["elapsed", 0.8, 0.21], ["extensions", 1, 0.08]],
                    }
                ),
            ),
        ]
        s.add_all(alerts)
        at = datetime.combine(day, datetime.min.time()) + timedelta(hours=6)
        s.add(
            CaseRisk(
                case_id=risky.id,
                probability=0.82,
                factors=json.dumps([["elapsed", 0.8, 0.21]]),
                computed_at=at,
            )
        )  # type: ignore[arg-type]
        s.add(CaseRisk(case_id=spike_cases[0], probability=0.2, factors="[]", computed_at=at))
        s.add(
            AlertRun(
                day=day,
                state="done",
                started_at=at,
                finished_at=at + timedelta(seconds=4),
                duration_s=4.2,
                counts=json.dumps({"spike": 1, "repeat": 1, "hotspot": 1, "risk": 1}),
                model_auc=0.81,
                model_rows=1200,
                hotspots=json.dumps({"SAF": [[g3, 2.9, 0.004], [g2, -2.2, 0.03], [g1, 0.4, 0.6]]}),
            )
        )
        s.commit()
        ids = {str(a.kind): int(a.id) for a in alerts}  # type: ignore[arg-type]
    return Planted(ids, spike_cases, int(risky.id), numbers)  # type: ignore[arg-type]
