"""Volunteer and service-record imports: validation, phone uniqueness, skills, overlaps, idempotence."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from dashboard.io.service_records import import_service_records
from dashboard.io.volunteers import import_volunteers
from models import ServiceRecord, Volunteer, VolunteerSkill
from tests.factories import IMPORTS, IMPORTS_NOW, World, counts, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)

VOL_HEAD = [
    "志愿者编号",
    "姓名",
    "手机",
    "性别",
    "出生年份",
    "所属网格",
    "技能",
    "政治面貌",
    "党员类型",
    "工作单位",
]
VOLUNTEERS = [
    VOL_HEAD,
    ["V1", "李四", "138 1111 2222", "男", 1960, "TS-01-01", "助老探访、急救", "中共党员", "离退休", "项里小学"],  # ok
    ["V2", "王五", "+86 13911112222", "F", "1990-05-01", "ts-01-02", "法律咨询", "群众", "", ""],  # ok
    ["V3", "赵六", "12345", "男", 1970, "TS-01-01", "急救", "群众", "", ""],  # bad phone
    ["V4", "钱七", "13700001111", "女", 1980, "TS-09-09", "急救", "群众", "", ""],  # unknown grid
    ["V5", "孙八", "13700002222", "女", 1980, "TS-01-01", "飞行", "群众", "", ""],  # unknown skill
    ["V6", "周九", "13811112222", "男", 1975, "TS-02-01", "急救", "群众", "", ""],  # phone of V1 again
    ["V7", "吴十", "13700003333", "男", 1975, "TS-02-01", "急救", "群众", "在职", "未知单位"],  # party kind w/o party
]  # fmt: skip


def test_volunteer_rows_are_checked_and_imported(world: World) -> None:
    before = counts(world.url)
    with world.session() as s:
        dry = import_volunteers(s, world.actors["admin"], csv_bytes(VOLUNTEERS), name="v.csv", commit=True)
        s.commit()
    assert not dry.committed and counts(world.url) == before
    assert [(e.row, e.column, e.key) for e in dry.errors] == [
        (4, "手机", "vol.err.phone"),
        (5, "所属网格", "io.err.unknown_grid"),
        (6, "技能", "vol.err.skill"),
        (7, "手机", "io.err.phone_twice"),
        (8, "党员类型", "vol.err.party_kind_status"),
    ]
    assert [(w.row, w.key) for w in dry.warnings] == [(8, "io.warn.unknown_unit")]
    with world.session() as s:
        report = import_volunteers(
            s, world.actors["admin"], csv_bytes(VOLUNTEERS), name="v.csv", commit=True, skip_bad_rows=True
        )
        s.commit()
        assert report.committed and report.new == 2
        v1 = s.exec(select(Volunteer).where(Volunteer.external_id == "V1")).one()
        assert (v1.name, v1.phone, v1.gender, v1.birth_year) == ("李四", "13811112222", "男", 1960)
        assert (v1.political_status, v1.party_kind, v1.home_grid_id) == (
            "party_member",
            "retired",
            world.grid_ids[0],
        )
        assert v1.employer_unit_id is not None and v1.community_id == world.community_ids[0]
        v2 = s.exec(select(Volunteer).where(Volunteer.external_id == "V2")).one()
        assert (v2.phone, v2.gender, v2.birth_year) == ("13911112222", "女", 1990)
        skills = s.exec(select(VolunteerSkill.skill).where(VolunteerSkill.volunteer_id == v1.id)).all()
        assert sorted(skills) == ["助老探访", "急救"]
    changed = [
        VOL_HEAD,
        ["V1", "李四", "13811112222", "男", 1960, "TS-01-01", "急救", "中共党员", "离退休", "项里小学"],
        ["V2", "王五", "13911112222", "女", 1990, "TS-01-02", "法律咨询", "群众", "", ""],
    ]
    with world.session() as s:
        again = import_volunteers(s, world.actors["admin"], xlsx_bytes(changed), name="v.xlsx", commit=True)
        s.commit()
        assert (again.new, again.updated, again.unchanged) == (0, 1, 1)
        assert s.exec(select(VolunteerSkill.skill).where(VolunteerSkill.volunteer_id == v1.id)).all() == [
            "急救"
        ]


def test_phone_of_another_stored_volunteer_is_refused(world: World) -> None:
    with world.session() as s:
        import_volunteers(s, world.actors["admin"], csv_bytes(VOLUNTEERS[:2]), name="a.csv", commit=True)
        report = import_volunteers(
            s,
            world.actors["admin"],
            csv_bytes(
                [VOL_HEAD, ["X9", "李四", "13811112222", "男", 1960, "TS-01-01", "急救", "群众", "", ""]]
            ),
            name="b.csv",
        )
    assert [(e.row, e.key) for e in report.errors] == [(2, "io.err.phone_taken")]


REC_HEAD = [
    "记录编号",
    "志愿者编号",
    "志愿者手机",
    "服务网格",
    "服务技能",
    "开始时间",
    "结束时间",
    "时长",
    "备注",
    "已核实",
]


def test_service_records(world: World) -> None:
    with world.session() as s:
        import_volunteers(s, world.actors["admin"], csv_bytes(VOLUNTEERS[:3]), name="v.csv", commit=True)
        s.commit()
    rows = [
        REC_HEAD,
        ["S1", "V1", "", "", "急救", "2026-11-01 08:00", "2026-11-01 10:30", "", "培训", "是"],  # ok, home grid
        ["S2", "", "13911112222", "TS-02-01", "法律咨询", "2026/11/02 14:00", "", "2", "", ""],  # ok by phone + hours
        ["S3", "V1", "", "", "急救", "2026-11-01 09:00", "2026-11-01 11:00", "", "", ""],  # overlaps S1
        ["S4", "V9", "", "", "急救", "2026-11-03 09:00", "2026-11-03 11:00", "", "", ""],  # unknown volunteer
        ["S5", "V1", "", "", "急救", "2026-11-04 11:00", "2026-11-04 09:00", "", "", ""],  # end before start
        ["S6", "V1", "", "", "急救", "2026-12-04 09:00", "2026-12-04 11:00", "", "", ""],  # future
        ["S7", "V2", "", "", "急救", "2026-11-05 09:00", "2026-11-05 10:00", "", "", "否"],  # ok, not verified
    ]  # fmt: skip
    with world.session() as s:
        report = import_service_records(
            s, world.actors["admin"], csv_bytes(rows), name="s.csv", commit=True, skip_bad_rows=True
        )
        s.commit()
        assert [(e.row, e.key) for e in report.errors] == [
            (4, "io.err.overlap_in_file"),
            (5, "io.err.unknown_volunteer"),
            (6, "io.err.end_before_start"),
            (7, "io.err.future"),
        ]
        assert report.committed and report.new == 3
        got = {r.external_id: r for r in s.exec(select(ServiceRecord)).all()}
        assert got["S1"].grid_id == world.grid_ids[0] and got["S1"].hours == 2.5
        assert got["S1"].verified_by == world.actors["admin"].id and got["S1"].note == "培训"
        assert got["S2"].end == datetime(2026, 11, 2, 16) and got["S2"].grid_id == world.grid_ids[2]
        assert got["S7"].verified_by is None
    with world.session() as s:
        again = import_service_records(
            s, world.actors["admin"], csv_bytes(rows), name="s.csv", skip_bad_rows=True
        )
        assert (again.new, again.unchanged) == (0, 3)
        stored = import_service_records(
            s,
            world.actors["admin"],
            csv_bytes(
                [REC_HEAD, ["S8", "V1", "", "", "急救", "2026-11-01 10:00", "2026-11-01 12:00", "", "", ""]]
            ),
            name="t.csv",
        )
        assert [e.key for e in stored.errors] == ["io.err.overlap_stored"]
