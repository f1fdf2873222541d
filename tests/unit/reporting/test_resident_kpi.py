"""The residents' figures (居民随手拍) on hand-built rows, every expected value counted by hand: resident
reports, 附议, 居民自评 (and how many became the 回访 result), spam; per community and grid, in scope, on the
map; and the seed gives them something to show."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from dashboard.reporting import kpi, resident_kpi
from dashboard.territory import map_values
from models import Case, CaseSupporter, PublicReport
from models.enums import CaseSource, CaseStatus, Satisfaction
from tests.factories import World, add_case

NOV = kpi.Period(datetime(2026, 11, 1), datetime(2026, 12, 1), "month")
IN = datetime(2026, 11, 10, 9)
BEFORE = datetime(2026, 10, 20, 9)
R = CaseSource.resident


def _report(s: Session, case: Case, *, kind: str = "report", **values: object) -> None:
    s.add(
        PublicReport(
            case_id=case.id, kind=kind, code_salt="s", code_hash="h", created_at=case.reported_at, **values
        )
    )  # type: ignore[arg-type]


def _rows(w: World) -> None:
    with w.session() as s:
        a = add_case(
            s,
            w,
            0,
            IN,
            CaseStatus.closed,
            source=R,
            closed_at=IN + timedelta(days=2),
            satisfaction="satisfied",
        )
        b = add_case(
            s,
            w,
            1,
            IN,
            CaseStatus.closed,
            source=R,
            closed_at=IN + timedelta(days=3),
            satisfaction="basically",
        )
        c = add_case(s, w, 2, IN, CaseStatus.rejected, source=R)  # community 2; spam
        add_case(s, w, 0, IN, source=R, duplicate_of_id=a.id)  # merged: never counted
        add_case(s, w, 0, BEFORE, source=R)  # before the period
        staff = add_case(s, w, 0, IN, source=CaseSource.hotline)  # residents supported a staff case too
        s.add_all(
            [
                CaseSupporter(case_id=a.id, at=IN + timedelta(hours=3)),  # type: ignore[arg-type]
                CaseSupporter(case_id=staff.id, at=IN + timedelta(hours=5)),  # type: ignore[arg-type]
                CaseSupporter(case_id=c.id, at=BEFORE),  # type: ignore[arg-type]
            ]
        )
        # a: the resident's 满意 became the 回访 result; b: rated 不满意 after staff's 基本满意 (not counted)
        _report(
            s, a, rating=Satisfaction.satisfied.value, rated_at=IN + timedelta(days=2), rating_counted=True
        )
        _report(s, b, rating=Satisfaction.dissatisfied.value, rated_at=IN + timedelta(days=4))
        _report(s, a, kind="support", rating=Satisfaction.basically.value, rated_at=IN + timedelta(days=3))
        _report(s, c, spam_at=IN + timedelta(hours=1))
        s.commit()


def test_resident_figures_count_by_hand(world: World) -> None:
    w = world
    _rows(w)
    leader, community = w.actors["leader"], w.actors["community"]
    with w.session() as s:
        f = resident_kpi.resident_figures(s, leader, NOV)
        assert (f.reported, f.supporters, f.rated, f.rated_satisfied, f.counted, f.spam) == (3, 2, 3, 2, 1, 1)
        assert f.self_rating_rate == 2 / 3
        # kpi's 满意率 holds the counted 居民自评 like any 回访 result: a (满意) and b (基本满意) of 2 followed up
        assert kpi.figures(s, leader, NOV).satisfaction_rate == 1.0
        own = resident_kpi.resident_figures(s, community, NOV)  # 测试1社区: grids 0 and 1 only
        assert (own.reported, own.supporters, own.rated, own.spam) == (2, 2, 3, 0)
        by_grid = resident_kpi.resident_figures_by(s, leader, NOV, "grid").set_index("key")
        assert by_grid.loc[w.grid_ids[0], "reported"] == 1 and by_grid.loc[w.grid_ids[0], "supporters"] == 2
        assert by_grid.loc[w.grid_ids[2], "spam"] == 1
        by_comm = resident_kpi.resident_figures_by(s, leader, NOV, "community").set_index("key")
        assert by_comm["reported"].to_dict() == {w.community_ids[0]: 2, w.community_ids[1]: 1}
        empty = resident_kpi.resident_figures(
            s, leader, kpi.Period(datetime(2026, 1, 1), datetime(2026, 2, 1))
        )
        assert empty.reported == 0 and empty.self_rating_rate is None
        grids = map_values.grid_values(s, leader, NOV, now=datetime(2026, 11, 30))
        assert grids["resident_reported"].to_dict() == dict(zip(w.grid_ids, [1, 1, 1, 0], strict=True))


def test_the_seed_has_resident_reports_supporters_and_ratings(seeded_ro_url: str) -> None:
    from dashboard.db import get_engine

    with Session(get_engine(seeded_ro_url)) as s:
        own = [Case.source == R, Case.duplicate_of_id.is_(None)]
        resident = s.scalar(select(func.count()).where(*own)) or 0
        supporters = s.scalar(select(func.count()).select_from(CaseSupporter)) or 0
        rated = s.scalar(select(func.count()).where(PublicReport.rating.is_not(None))) or 0
        linked = s.scalar(
            select(func.count())
            .select_from(PublicReport)
            .join(Case, Case.id == PublicReport.case_id)
            .where(PublicReport.kind == "report", *own)
        )
    assert resident > 20 and supporters > 0 and rated > 0
    assert linked == resident  # every resident case has its reporter's lookup row
