"""Case import from messy spreadsheets: row-level errors, dry run, all or nothing, idempotence, SLA clocks,
events, numbers, grids and coordinate systems."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlmodel import func, select

from dashboard.cases import sla
from dashboard.io.cases import import_cases
from dashboard.io.runs import ImportReport
from dashboard.kernel.errors import NotPermitted
from dashboard.territory import geo
from models import AuditLog, Case, CaseEvent, Category
from models.enums import CaseSource, CaseStatus
from tests.factories import (
    IMPORTS,
    IMPORTS_NOW,
    INSIDE,
    World,
    add_case,
    counts,
    csv_bytes,
    square,
    xlsx_bytes,
)
from tests.factories import IMPORTS_NOW as NOW

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)

HEAD = ["事件编号", "标题", "类别", "上报时间", "经度", "纬度", "地址", "状态", "结案时间", "报告人", "电话"]


def _row(
    number: str,
    *,
    title: str = "垃圾未清运",
    category: str = "ENV",
    at: str = "2026-11-02 09:00",
    point: tuple[float, float] | None = INSIDE[0],
    status: str = "待受理",
    closed: str = "",
    name: str = "张三",
    phone: str = "13812345678",
) -> list[object]:
    lon, lat = point if point else ("", "")
    return [number, title, category, at, lon, lat, "幸福路8号", status, closed, name, phone]


MESSY = [
    HEAD,
    _row("XL20261102-0001"),  # row 2: fine, our format: number kept
    _row(
        "OLD-7",
        category="安全隐患",
        at="2026/11/03",
        point=INSIDE[3],
        status="已结案",
        closed="2026年11月3日 15时00分",
    ),  # row 3: fine (category by Chinese name), closed
    _row("OLD-8", at="2026-13-45"),  # row 4: bad date
    _row("OLD-9", category="POTHOLE"),  # row 5: unknown category
    _row("OLD-7", title="重复"),  # row 6: duplicate of row 3 in the file
    _row("OLD-10", point=(118.5, 33.5)),  # row 7: outside the sub-district
    _row("OLD-11", phone="12345"),  # row 8: bad phone: optional, left out with a warning
    _row("OLD-12", category="Environment", at="46330.375", point=None),  # row 9: no location, no grid column
    ["OLD-13", "截断的行", "ENV"],  # row 10: the file was cut here
]


def _problems(report: ImportReport) -> list[tuple[int | None, str, str]]:
    return [(e.row, e.column, e.key) for e in report.errors]


def test_messy_csv_dry_run_reports_every_row_and_writes_nothing(world: World) -> None:
    before = counts(world.url)
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], csv_bytes(MESSY), name="messy.csv")
        s.commit()
    assert counts(world.url) == before
    assert not report.committed and report.rows == 9
    assert (report.new, report.updated, report.unchanged, report.error_rows) == (3, 0, 0, 6)
    assert _problems(report) == [
        (4, "上报时间", "io.err.bad_date"),
        (5, "类别", "io.err.unknown_category"),
        (6, "事件编号", "io.err.duplicate_in_file"),
        (7, "经度/纬度", "io.err.outside_grids"),
        (9, "经度", "io.err.no_location"),
        (10, "", "io.err.too_few_cells"),
    ]
    assert report.errors[2].values == {"first": 3}
    assert [(w.row, w.column, w.key) for w in report.warnings] == [(8, "电话", "io.warn.bad_phone")]
    assert report.unknown_categories == {"POTHOLE": 1}
    frame = report.problems_frame("en")
    assert list(frame.columns) == ["Row", "Level", "Column", "Value", "Reason"]
    assert frame.iloc[0].tolist() == [
        4,
        "error",
        "上报时间",
        "2026-13-45",
        "Not a date and time this import understands.",
    ]
    csv = report.problems_csv("zh")
    assert csv.startswith(b"\xef\xbb\xbf") and "未知的类别".encode() in csv


def test_failed_commit_leaves_every_table_unchanged(world: World) -> None:
    before = counts(world.url)
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], csv_bytes(MESSY), name="messy.csv", commit=True)
        s.commit()
    assert not report.committed and report.error_rows == 6
    assert counts(world.url) == before  # no case, no event, not even an audit row


def test_skip_bad_rows_commits_the_good_ones_with_events_and_sla(world: World) -> None:
    with world.session() as s:
        report = import_cases(
            s, world.actors["admin"], csv_bytes(MESSY), name="messy.csv", commit=True, skip_bad_rows=True
        )
        s.commit()
        assert report.committed and (report.new, report.skipped) == (3, 6)
        kept = s.exec(select(Case).where(Case.external_id == "XL20261102-0001")).one()
        assert kept.number == "XL20261102-0001" and kept.source == CaseSource.imported
        assert kept.status == CaseStatus.reported and kept.grid_id == world.grid_ids[0]
        assert kept.community_id == world.community_ids[0]
        assert kept.reporter_phone == "13812345678" and kept.version == 1
        env = s.get(Category, kept.category_id)
        times = sla.sla_times(datetime(2026, 11, 2, 9), env.sla_limit, env.calendar)
        assert (kept.due_at, kept.warn_at, kept.black_at) == (times.due_at, times.warn_at, times.black_at)
        closed = s.exec(select(Case).where(Case.external_id == "OLD-7")).one()
        assert closed.number == "XL20261103-0001"  # a new number of the reporting day
        assert closed.status == CaseStatus.closed and closed.closed_at == datetime(2026, 11, 3, 15)
        assert closed.due_at == datetime(2026, 11, 4)  # SAF: 24 natural hours
        assert closed.grid_id == world.grid_ids[3] and closed.solved is True
        events = s.exec(select(CaseEvent).where(CaseEvent.case_id == closed.id).order_by(CaseEvent.id)).all()
        assert [(e.action, e.from_status, e.to_status, e.at) for e in events] == [
            ("report", None, "reported", datetime(2026, 11, 3)),
            ("close", "reported", "closed", datetime(2026, 11, 3, 15)),
        ]
        assert all(
            e.actor_id == world.actors["admin"].id and json.loads(e.payload)["import"] == "messy.csv"
            for e in events
        )
        audit = s.exec(select(AuditLog).where(AuditLog.action == "import")).one()
        assert audit.target == "cases:messy.csv" and json.loads(audit.detail)["new"] == 3


def test_reimport_is_idempotent_and_updates_changed_rows(world: World) -> None:
    good = [
        HEAD,
        _row("A-1"),
        _row("A-2", point=INSIDE[1]),
        _row("A-3", status="已结案", closed="2026-11-02 12:00"),
    ]
    with world.session() as s:
        assert import_cases(s, world.actors["admin"], csv_bytes(good), name="a.csv", commit=True).new == 3
        s.commit()
    after_first = counts(world.url)
    with world.session() as s:
        again = import_cases(s, world.actors["admin"], csv_bytes(good), name="a.csv", commit=True)
        s.commit()
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert counts(world.url) == {**after_first, "audit_log": after_first["audit_log"] + 1}
    changed = [
        HEAD,
        _row("A-1", title="垃圾未清运（已复查）"),
        _row("A-2", point=INSIDE[2], status="已结案", closed="2026-11-03 10:00"),
        _row("A-3", status="处理中"),
    ]
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], csv_bytes(changed), name="a.csv", commit=True)
        s.commit()
        assert (report.new, report.updated, report.unchanged) == (0, 3, 0)
        a1, a2, a3 = (s.exec(select(Case).where(Case.external_id == n)).one() for n in ("A-1", "A-2", "A-3"))
        assert a1.title == "垃圾未清运（已复查）" and a1.version == 2 and a1.status == CaseStatus.reported
        assert a2.grid_id == world.grid_ids[2] and a2.community_id == world.community_ids[1]
        assert a2.status == CaseStatus.closed and a2.closed_at == datetime(2026, 11, 3, 10)
        assert a3.status == CaseStatus.in_progress and a3.closed_at is None
        moves = s.exec(
            select(CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status)
            .where(CaseEvent.case_id.in_([a2.id, a3.id]))
            .order_by(CaseEvent.id)
        ).all()
        assert ("close", "reported", "closed") in moves and ("reopen", "closed", "in_progress") in moves


def test_xlsx_with_title_row_mixed_dates_and_user_mapping(world: World) -> None:
    rows = [
        ["Ref", "What", "Kind", "When", "X", "Y"],
        ["R1", "路灯不亮", "env", datetime(2026, 11, 5, 8, 30), INSIDE[0][0], INSIDE[0][1]],
        ["R2", "井盖缺失", "Safety hazards", 46331.5, INSIDE[1][0], INSIDE[1][1]],
        ["R3", "噪音", "环境卫生", "2026.11.06", INSIDE[2][0], INSIDE[2][1]],
        [None, None, None, None, None, None],
    ]
    data = xlsx_bytes(rows, title_row="历史台账（导出）")
    with world.session() as s:
        missing = import_cases(s, world.actors["admin"], data, name="old.xlsx")
        assert missing.file_error is not None and missing.file_error.key == "io.err.missing_columns"
        mapping = {
            "Ref": "number",
            "What": "title",
            "Kind": "category",
            "When": "reported_at",
            "X": "lon",
            "Y": "lat",
        }
        report = import_cases(s, world.actors["admin"], data, mapping, commit=True, name="old.xlsx")
        s.commit()
        assert report.committed and report.new == 3 and report.rows == 3
        got = dict(
            s.exec(select(Case.external_id, Case.reported_at).where(Case.source == CaseSource.imported)).all()
        )
    assert got == {
        "R1": datetime(2026, 11, 5, 8, 30),
        "R2": datetime(2026, 11, 5, 12),
        "R3": datetime(2026, 11, 6),
    }


def test_unknown_categories_can_be_mapped(world: World) -> None:
    data = csv_bytes([HEAD, _row("P-1", category="路面坑洼"), _row("P-2", category="路面坑洼")])
    with world.session() as s:
        first = import_cases(s, world.actors["admin"], data, name="p.csv")
        assert first.unknown_categories == {"路面坑洼": 2} and first.error_rows == 2
        second = import_cases(
            s, world.actors["admin"], data, {"categories": {"路面坑洼": "ENV"}}, name="p.csv"
        )
        assert second.ok and second.new == 2


def test_grid_column_is_the_fallback_outside_every_grid(world: World) -> None:
    head = [*HEAD, "网格"]
    data = csv_bytes(
        [
            head,
            [*_row("G-1", point=(118.5, 33.5)), "TS-02-01"],
            [*_row("G-2", point=INSIDE[0]), "TS-02-01"],
            [*_row("G-3", point=None), "ts-01-02"],
            [*_row("G-4", point=None), "TS-09-09"],
        ]
    )
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], data, name="g.csv", commit=True, skip_bad_rows=True)
        s.commit()
        grids = dict(s.exec(select(Case.external_id, Case.grid_id)).all())
    g = world.grid_ids
    assert grids == {"G-1": g[2], "G-2": g[0], "G-3": g[1]}  # the point wins over a contradicting grid column
    assert [(w.row, w.key) for w in report.warnings] == [
        (2, "io.warn.outside_used_grid"),
        (3, "io.warn.grid_mismatch"),
    ]
    assert _problems(report) == [(5, "网格", "io.err.unknown_grid")]


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_chinese_map_coordinates_are_converted(world: World, system: str) -> None:
    # A point near the edge of grid TS-01-01 that its GCJ-02/BD-09 offset (hundreds of metres) would move out.
    lon, lat = 118.0005, 33.0005
    shifted = geo.wgs84_to_gcj02(lon, lat) if system == "gcj02" else geo.wgs84_to_bd09(lon, lat)
    data = csv_bytes([HEAD, _row("C-1", point=shifted)])
    assert not geo.from_geojson(s_poly := square(118.0, 33.0, 0.005)).contains(
        geo.from_geojson({"type": "Point", "coordinates": list(shifted)})
    ), s_poly  # unconverted, it would land elsewhere
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], data, name="c.csv", convert=system, commit=True)
        s.commit()
        case = s.exec(select(Case).where(Case.external_id == "C-1")).one()
    assert report.committed and case.grid_id == world.grid_ids[0]
    assert abs(case.lon - lon) < 1e-5 and abs(case.lat - lat) < 1e-5


def test_number_in_our_format_already_taken_gets_a_new_one(world: World) -> None:
    data = csv_bytes([HEAD, _row("XL20261102-0001"), _row("XL20261102-0002")])
    with world.session() as s:
        import_cases(
            s,
            world.actors["admin"],
            csv_bytes([HEAD, _row("XL20261102-0002", title="先到")]),
            name="first.csv",
            commit=True,
        )
        report = import_cases(s, world.actors["admin"], data, name="second.csv", commit=True)
        s.commit()
        numbers = dict(s.exec(select(Case.external_id, Case.number)).all())
    # XL…-0002 matches the case imported first (same external id): unchanged apart from the title.
    assert (report.new, report.updated) == (1, 1)
    assert numbers == {"XL20261102-0002": "XL20261102-0002", "XL20261102-0001": "XL20261102-0001"}


def test_only_admins_import(world: World) -> None:
    with world.session() as s, pytest.raises(NotPermitted):
        import_cases(s, world.actors["operator"], csv_bytes([HEAD, _row("A")]), name="a.csv")


def test_closed_without_closing_time_and_future_dates(world: World) -> None:
    data = csv_bytes(
        [
            HEAD,
            _row("F-1", status="closed"),
            _row("F-2", at="2027-01-01 08:00"),
            _row("F-3", at="2026-11-02 09:00", status="已结案", closed="2026-11-01 09:00"),
        ]
    )
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], data, name="f.csv")
    assert [(w.row, w.key) for w in report.warnings] == [
        (2, "io.warn.closed_time_unknown"),
        (4, "io.warn.before_reported"),  # an optional time: left out …
        (4, "io.warn.closed_time_unknown"),  # … so the case is closed when reported
    ]
    assert _problems(report) == [(3, "上报时间", "io.err.future")]
    assert NOW.year == 2026


def test_large_file_streams_in_chunks_with_progress(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """10,000 rows read from disk in chunks (the 100,000-row run is bench/import_100k.py)."""
    path = tmp_path / "big.csv"
    rows = [HEAD] + [
        _row(f"BIG-{i}", point=INSIDE[i % 4], at=f"2026-11-{1 + i % 20:02d} 08:{i % 60:02d}")
        for i in range(10_000)
    ]
    path.write_bytes(csv_bytes(rows))
    ticks: list[float] = []
    with world.session() as s:
        report = import_cases(
            s, world.actors["admin"], path, commit=True, progress=lambda f, _m: ticks.append(f)
        )
        s.commit()
        assert report.committed and report.new == 10_000
        assert s.exec(select(func.count()).select_from(Case)).one() == 10_000
        assert s.exec(select(func.count()).select_from(CaseEvent)).one() == 10_000
    assert len(ticks) >= 5 and ticks == sorted(ticks) and ticks[-1] == 1.0


@pytest.mark.parametrize("kind", ["xlsx_zip", "csv_quote"])
def test_truncated_files_write_nothing(world: World, kind: str) -> None:
    rows = [HEAD] + [_row(f"T-{i}", title="说明" * 40) for i in range(300)]
    if kind == "xlsx_zip":
        full = xlsx_bytes(rows)
        data, name, key = full[: len(full) * 2 // 3], "t.xlsx", "io.err.xlsx_broken"
    else:
        data, name, key = csv_bytes(rows) + 'T-301,"标题没有结束'.encode(), "t.csv", "io.err.csv_broken"
    before = counts(world.url)
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], data, name=name, commit=True, skip_bad_rows=True)
        s.commit()
    assert report.file_error is not None and report.file_error.key == key
    assert not report.committed and counts(world.url) == before


def test_rows_naming_a_case_recorded_here_are_refused(world: World) -> None:
    with world.session() as s:
        add_case(s, world, number="XL20261102-0009")
        s.commit()
        report = import_cases(
            s, world.actors["admin"], csv_bytes([HEAD, _row("XL20261102-0009")]), name="x.csv"
        )
    assert [(e.row, e.key) for e in report.errors] == [(2, "io.err.native_case")] and report.new == 0
