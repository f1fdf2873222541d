"""Retention of personal data (dashboard.cases.retention): reporters of cases closed more than N years ago
are masked, nothing else is, every figure stays, the job is audited and idempotent — on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bench.workload import replay_problems
from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.admin.settings import clear_cache, set_setting
from dashboard.cases.retention import cutoff_for, last_run, mask_closed_cases
from dashboard.cli import main
from dashboard.db import get_engine, session_scope
from dashboard.kernel.errors import Invalid
from dashboard.kernel.privacy import mask_address, mask_name, mask_phone
from models import AuditLog, Case, User
from models.enums import CaseStatus

COLUMNS = (Case.id, Case.status, Case.closed_at, Case.reporter_name, Case.reporter_phone, Case.address,
           Case.category_id, Case.grid_id, Case.reported_at, Case.satisfaction, Case.version, Case.lon)  # fmt: skip


def _rows(url: str) -> dict[int, tuple]:
    with session_scope(get_engine(url)) as s:
        return {r[0]: tuple(r) for r in s.exec(select(*COLUMNS))}


def _figures(url: str, now: datetime) -> object:
    from dashboard.reporting import kpi

    with session_scope(get_engine(url)) as s:
        me = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        year = kpi.Period(now - timedelta(days=400), now)
        by = kpi.figures_by(s, me, year, "category", now=now).fillna(-1).to_dict("records")
        return kpi.figures(s, me, year, now=now), by


def _audit(url: str) -> list[tuple[str, str, str]]:
    with session_scope(get_engine(url)) as s:
        rows = s.exec(select(AuditLog.actor_name, AuditLog.target, AuditLog.detail)
                      .where(AuditLog.action == "retention_mask").order_by(AuditLog.id))  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_cutoff_is_calendar_years_back() -> None:
    assert cutoff_for(3, datetime(2026, 12, 1, 9, 30)) == datetime(2023, 12, 1, 9, 30)
    assert cutoff_for(1, datetime(2028, 2, 29, 8, 0)) == datetime(2027, 2, 28, 8, 0)


def test_the_job_masks_old_closed_cases_only_keeps_the_figures_and_is_audited(seeded_url: str) -> None:
    now = clock.now() + timedelta(
        days=200
    )  # the seed's year, seen 200 days later: the older part is "a year ago"
    cutoff = cutoff_for(1, now)
    before, figures = _rows(seeded_url), _figures(seeded_url, now)
    old = {i for i, r in before.items() if r[1] == CaseStatus.closed and r[2] < cutoff and (r[3] or r[4])}
    assert len(old) > 100 and len(old) < len(before) - 100, "the seed has old and recent closed cases"

    result = mask_closed_cases(get_engine(seeded_url), 1, now=now)
    after = _rows(seeded_url)
    assert after.keys() == before.keys()
    for case_id, row in before.items():
        new = after[case_id]
        assert new[6:] == row[6:], "category, grid, dates, satisfaction, version and place are kept"
        if case_id in old or (row[1] == CaseStatus.closed and row[2] < cutoff):
            assert new[3:6] == (mask_name(row[3]), mask_phone(row[4]), mask_address(row[5])), case_id
        else:
            assert new[3:6] == row[3:6], f"case {case_id} is not closed long enough: untouched"
    assert old <= {i for i in before if after[i] != before[i]}
    assert result.cases == sum(1 for i in before if after[i] != before[i])
    assert result.fields["reporter_phone"] == sum(1 for i in before if after[i][4] != before[i][4]) > 100
    assert _figures(seeded_url, now) == figures
    with session_scope(get_engine(seeded_url)) as s:
        assert replay_problems(s) == []

    audit = _audit(seeded_url)
    assert len(audit) == result.batches >= 1
    assert all(a[0] == "retention" and a[1] == f"closed before {cutoff:%Y-%m-%d}" for a in audit)
    assert sum(int(a[2].split(":")[0].removeprefix("cases ")) for a in audit) == result.cases
    with session_scope(get_engine(seeded_url)) as s:
        assert last_run(s) is not None

    again = mask_closed_cases(get_engine(seeded_url), 1, now=now)
    assert again.cases == 0 and _rows(seeded_url) == after, "idempotent: masked values stay as they are"
    assert _audit(seeded_url)[-1][2].startswith("cases 0:"), "a run with nothing left to mask is audited too"
    with pytest.raises(Invalid):
        mask_closed_cases(get_engine(seeded_url), 0)


def test_the_command_follows_the_setting(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retention", "run", "--database-url", seeded_url]) == 0
    assert "retention is off" in capsys.readouterr().out
    assert _audit(seeded_url) == []
    with session_scope(get_engine(seeded_url), write=True) as s:
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        set_setting(s, admin, "retention.mask_after_years", 5)
    clear_cache()
    before = _rows(seeded_url)
    assert main(["retention", "run", "--database-url", seeded_url]) == 0
    assert "0 masked" in capsys.readouterr().out  # the seed holds one year: nothing is five years old
    assert _rows(seeded_url) == before and len(_audit(seeded_url)) == 1
