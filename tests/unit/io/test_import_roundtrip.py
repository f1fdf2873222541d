"""Round trip: the seeded test database's cases exported (Open311 JSON, Excel) and imported into a copy of
the seed whose cases were deleted come back as the same cases, with the same figures."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlmodel import Session, SQLModel, select

from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.cases import export as case_export
from dashboard.db import get_engine
from dashboard.io import open311
from dashboard.io.cases import import_cases, import_open311
from dashboard.reporting import kpi
from models import (
    Case,
    CaseEvent,
    Category,
    Grid,
    GridVisit,
    ServiceRecord,
    User,
)
from models.enums import Role


def _admin(s: Session):  # type: ignore[no-untyped-def]
    return actor_of(s.exec(select(User).where(User.role == Role.admin).order_by(User.id)).first())


def _snapshot(url: str) -> tuple[Counter, kpi.Figures, int]:
    """(number, category, grid, open/closed, status, reported_at, is duplicate) of every case, the figures of
    all time, and the number of cases."""
    with Session(get_engine(url)) as s:
        rows = s.exec(
            select(
                Case.number,
                Category.code,
                Grid.code,
                Case.status,
                Case.reported_at,
                Case.closed_at,
                Case.duplicate_of_id.is_not(None),
            )
            .join(Category, Category.id == Case.category_id)
            .join(Grid, Grid.id == Case.grid_id)
        ).all()
        period = kpi.Period(datetime(2000, 1, 1), clock.now() + timedelta(days=400))
        figures = kpi.figures(s, _admin(s), period)
    keys = Counter(
        (n, cat, grid, open311.open311_status(st), st, rep, clo, dup)
        for n, cat, grid, st, rep, clo, dup in rows
    )
    return keys, figures, len(rows)


def _without_cases(url: str) -> None:
    """The seeded sub-district with every case gone (the timeline's append-only triggers are lifted for
    this test set-up only, and put back)."""
    sqlite = url.startswith("sqlite")
    with Session(get_engine(url)) as s:
        s.execute(update(ServiceRecord).values(case_id=None))
        s.execute(update(GridVisit).values(case_id=None))
        if sqlite:
            s.execute(text("DROP TRIGGER case_events_no_delete"))
        else:
            s.execute(text("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only"))
        s.execute(delete(CaseEvent))
        if sqlite:
            s.execute(
                text(
                    "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
                    "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"
                )
            )
        else:
            s.execute(text("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only"))
        handled = {"cases", "case_events", "service_records", "grid_visits"}
        for table in reversed(
            SQLModel.metadata.sorted_tables
        ):  # photos, resident reports, API requests, risks
            if table.name not in handled and any(
                fk.column.table.name == "cases" for fk in table.foreign_keys
            ):
                s.execute(table.delete())
        s.execute(update(Case).values(duplicate_of_id=None))
        s.execute(delete(Case))
        s.commit()


@pytest.mark.parametrize("fmt", ["open311", "xlsx"])
def test_export_then_import_gives_the_same_cases_and_figures(
    seeded_ro_url: str, seeded_url: str, fmt: str
) -> None:
    buffer = io.BytesIO()
    with Session(get_engine(seeded_ro_url)) as s:
        writer = open311.write_open311 if fmt == "open311" else case_export.write_cases_xlsx
        exported = writer(s, _admin(s), buffer, lang="zh")  # masked: personal data is not needed here
        s.rollback()  # the seed is shared and read-only: leave out the audit row
    original, figures, n = _snapshot(seeded_ro_url)
    assert exported == n > 1000
    _without_cases(seeded_url)
    with Session(get_engine(seeded_url)) as s:
        name = "requests.json" if fmt == "open311" else "cases.xlsx"
        run = import_open311 if fmt == "open311" else import_cases
        report = run(s, _admin(s), buffer.getvalue(), name=name, commit=True)
        s.commit()
    assert report.committed and report.ok and (report.rows, report.new) == (n, n), report.problems_frame(
        "en"
    ).head()
    imported, figures_after, n_after = _snapshot(seeded_url)
    assert n_after == n
    assert imported == original  # numbers, categories, grids, statuses, reported and closed times, duplicates
    assert (figures_after.reported, figures_after.closed) == (figures.reported, figures.closed)
    assert figures_after.open_now == figures.open_now
    with Session(get_engine(seeded_url)) as s:
        assert set(s.exec(select(Case.source)).all()) == {"imported"}
        assert s.exec(select(Case.external_id).where(Case.external_id != Case.number)).all() == []
        events = Counter(s.exec(select(CaseEvent.action)).all())
    statuses = Counter(k[4] for k in original.elements())
    assert (
        events["report"] == n
        and events["close"] == statuses["closed"]
        and events["reject"] == statuses["rejected"]
    )
