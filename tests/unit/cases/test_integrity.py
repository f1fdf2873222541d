"""Integrity under faults: every unit of work is one real transaction, on SQLite as on PostgreSQL."""

from __future__ import annotations

import csv
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from dashboard.admin.auth import actor_of
from dashboard.cases.intake import NewCase, create_case
from dashboard.db import get_engine, session_scope
from models import AuditLog, Case, CaseEvent, Category, Grid, User
from models.enums import CaseSource


def _operator_and_case(url: str) -> tuple[object, NewCase]:
    with session_scope(get_engine(url)) as s:
        actor = actor_of(s.exec(select(User).where(User.username == "operator")).one())
        category = s.exec(select(Category).where(Category.active.is_(True)).order_by(Category.id)).first()
        grid = s.exec(select(Grid).order_by(Grid.id)).first()
        assert category is not None and grid is not None
        data = NewCase(
            category_id=category.id,
            title="井盖缺失",
            source=CaseSource.hotline,
            grid_id=grid.id,
            reporter_name="王小明",
            reporter_phone="13812345678",
        )
    return actor, data


def _counts(url: str) -> tuple[int, int]:
    with session_scope(get_engine(url)) as s:
        cases = s.exec(select(func.count()).select_from(Case)).one()
        orphans = s.exec(
            select(func.count())
            .select_from(Case)
            .where(~select(CaseEvent.id).where(CaseEvent.case_id == Case.id).exists())
        ).one()
    return cases, orphans


def test_a_failure_after_intake_leaves_no_case(seeded_url: str) -> None:
    """create_case's savepoint nests inside the unit of work: an error after it undoes the case too."""
    actor, data = _operator_and_case(seeded_url)
    before = _counts(seeded_url)
    with pytest.raises(RuntimeError), session_scope(get_engine(seeded_url)) as s:
        create_case(s, actor, data)  # type: ignore[arg-type]
        raise RuntimeError("fault after the intake")
    assert _counts(seeded_url) == before


def test_intake_commits_case_and_report_event_together(seeded_url: str) -> None:
    actor, data = _operator_and_case(seeded_url)
    cases, orphans = _counts(seeded_url)
    with session_scope(get_engine(seeded_url)) as s:
        create_case(s, actor, data)  # type: ignore[arg-type]
    assert _counts(seeded_url) == (cases + 1, orphans)


# ---------------------------------------------------------------- processes killed mid-write


def _writer_loop(url: str, seed: int, ready: Any) -> None:
    """A worker process: random legal actions and intakes, one transaction each, until killed."""
    import random

    from bench.workload import load_world, step
    from dashboard.kernel.errors import DomainError

    engine = get_engine(url)
    world = load_world(engine)
    rng = random.Random(seed)
    ready.set()
    while True:
        try:
            step(engine, rng, world)
        except DomainError:
            pass


def test_writers_killed_at_random_moments_leave_whole_cases(seeded_url: str) -> None:
    """kill -9 at 8 random moments (each a fresh process, so a moment costs a start-up: 8 keeps the run
    short and still lands in reads, writes and commits): every case's events still replay to its status and version, and
    no case lacks its report event."""
    import random

    from bench.workload import replay_problems

    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(17)
    for i in range(5):  # five kills at random moments (CI time: each round starts a process)
        ready = ctx.Event()
        worker = ctx.Process(target=_writer_loop, args=(seeded_url, i, ready), daemon=True)
        worker.start()
        assert ready.wait(120), "the writer did not start"
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join(30)
    with session_scope(get_engine(seeded_url)) as s:
        assert replay_problems(s) == []


def _import_file(url: str, tmp_path: Path, rows: int) -> Path:
    with session_scope(get_engine(url)) as s:
        grids = s.exec(select(Grid.centroid_lon, Grid.centroid_lat).order_by(Grid.id)).all()
        code = s.exec(select(Category.code).where(Category.active.is_(True)).order_by(Category.id)).first()
    head = [
        "事件编号",
        "标题",
        "类别",
        "上报时间",
        "经度",
        "纬度",
        "地址",
        "状态",
        "结案时间",
        "报告人",
        "电话",
    ]
    lines = [head]
    for i in range(rows):
        lon, lat = grids[i % len(grids)]
        lines.append(
            [f"K-{i:06d}", "路灯不亮", code, "2026-11-02 09:00", lon, lat, "幸福路8号", "", "", "", ""]
        )
    path = tmp_path / "batch.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(lines)
    return path


def _imported(url: str) -> tuple[int, int]:
    with session_scope(get_engine(url)) as s:
        cases = s.exec(select(func.count()).select_from(Case).where(Case.external_id.like("K-%"))).one()
        runs = s.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "import", AuditLog.outcome == "ok")
        ).one()
    return cases, runs


def test_an_import_killed_at_random_moments_writes_all_rows_or_none(seeded_url: str, tmp_path: Path) -> None:
    """The import's rows, their events and its audit row are one transaction: killed at any moment,
    the database holds all of them or none."""
    import random

    path = _import_file(seeded_url, tmp_path, 3000)
    command = [sys.executable, "-m", "dashboard", "import", "cases", str(path), "--commit"]
    command += ["--database-url", seeded_url]
    _, runs_before = _imported(seeded_url)
    started = time.monotonic()
    subprocess.run([*command[:-3], "--database-url", seeded_url], check=True, capture_output=True)  # dry run
    duration = max(time.monotonic() - started, 1.0)
    rng = random.Random(3)
    for _ in range(4):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.0) * duration)
        proc.kill()
        proc.wait()
        cases, runs = _imported(seeded_url)
        if cases:
            assert (cases, runs) == (3000, runs_before + 1)
            break
        assert runs == runs_before
    else:
        subprocess.run(command, check=True, capture_output=True)
        assert _imported(seeded_url) == (3000, runs_before + 1)
    with session_scope(get_engine(seeded_url)) as s:
        from bench.workload import replay_problems

        assert replay_problems(s) == []


# ---------------------------------------------------------------- the timeline is append-only


def test_the_database_refuses_to_edit_or_delete_case_events(seeded_url: str) -> None:
    engine = get_engine(seeded_url)
    for statement in (update(CaseEvent).values(note="changed"), delete(CaseEvent)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement.where(CaseEvent.id == 1))
    with session_scope(engine) as s:
        assert s.get(CaseEvent, 1) is not None


# ---------------------------------------------------------------- text at the one place it enters


def test_control_characters_and_bidi_overrides_never_reach_the_database(seeded_url: str) -> None:
    """A NUL (refused by PostgreSQL), a vertical tab (fatal to an XLSX export) and a right-to-left
    override are removed where the text enters; the rest of the text is kept."""
    actor, data = _operator_and_case(seeded_url)
    data.title = "井盖\x00缺失\x0b"
    data.description = "第一行\r\n第二行\t（见图）\u202egpj.exe"
    with session_scope(get_engine(seeded_url), write=True) as s:
        ref = create_case(s, actor, data)  # type: ignore[arg-type]
    with session_scope(get_engine(seeded_url)) as s:
        case = s.get(Case, ref.id)
        assert case is not None
        assert (case.title, case.description) == ("井盖缺失", "第一行\n第二行\t（见图）gpj.exe")


def test_note_limits_hold_without_the_browser(seeded_url: str) -> None:
    from dashboard.cases import commands
    from dashboard.cases.errors import InvalidInput

    actor, data = _operator_and_case(seeded_url)
    with session_scope(get_engine(seeded_url), write=True) as s:
        ref = create_case(s, actor, data)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as err, session_scope(get_engine(seeded_url), write=True) as s:
        commands.comment(s, actor, ref.id, "很长" * 500_000)  # type: ignore[arg-type]
    assert err.value.problems == {"note": "errors.too_long"}
    with session_scope(get_engine(seeded_url), write=True) as s:
        commands.comment(s, actor, ref.id, "备" * 2000)  # type: ignore[arg-type]


def test_an_xlsx_export_survives_control_characters_stored_earlier() -> None:
    import io

    import openpyxl
    import pandas as pd

    from dashboard.io.exports import to_xlsx_bytes

    data = to_xlsx_bytes(pd.DataFrame({"标题": ["路灯\x0b不亮", "=1+1"], "数量": [1, 2]}))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet["A"]] == ["标题", "路灯不亮", "'=1+1"]
