"""The working calendar: statutory holidays and swapped workdays (a pasted State Council notice, else
`chinese-calendar`), local overrides that move new cases' working-day due dates, their validation, and the
administrator's warning when a year's schedule is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.admin import calendar as work_calendar
from dashboard.cases import intake as case_intake
from dashboard.cases import sla
from dashboard.cases.intake import NewCase
from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.kernel.errors import DomainError, NotPermitted
from models import AuditLog, CalendarOverride, Case, StatutoryDay
from models.enums import CalendarKind, CalendarOverrideKind, CaseSource
from tests.factories import CASE_LOOP, World, build_world


@pytest.fixture
def env(db_url: str) -> Iterator[tuple[Session, World]]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)  # category ENV: 3 working days
        session.commit()
        yield session, world


def _new_case_due(session: Session, world: World, at: datetime) -> datetime:
    with clock.frozen(at):
        ref = case_intake.create_case(
            session,
            world.actors["operator"],
            NewCase(
                category_id=world.category["ENV"],
                title="路灯不亮",
                source=CaseSource.hotline,
                grid_id=world.grid_ids[0],
            ),
        )
        session.commit()
    due = session.get(Case, ref.id).due_at  # type: ignore[union-attr]
    assert due is not None
    return due


def test_local_closure_moves_working_day_due_date(env: tuple[Session, World]) -> None:
    session, world = env
    start = datetime(2026, 11, 2, 9)  # Monday
    first = _new_case_due(session, world, start)
    assert first == datetime(2026, 11, 5, 9)  # Thursday

    work_calendar.add_calendar_override(
        session, world.actors["admin"], date(2026, 11, 3), "closure", "防汛停工"
    )
    session.commit()
    second = _new_case_due(session, world, start)
    assert second == datetime(2026, 11, 6, 9)  # one working day later
    assert second == sla.add_limit(start, 3, CalendarKind.working_days, sla.load_calendar(session))
    session.expire_all()
    assert session.exec(select(Case.due_at).order_by(Case.id)).all() == [
        first,
        second,
    ]  # the old case keeps its date

    # an extra working day on Saturday 7 November pulls a Friday case's due date in by a day
    friday = datetime(2026, 11, 6, 9)
    assert _new_case_due(session, world, friday) == datetime(2026, 11, 11, 9)  # Fri, Mon, Tue → Wed 09:00
    work_calendar.add_calendar_override(
        session, world.actors["admin"], date(2026, 11, 7), CalendarOverrideKind.workday
    )
    session.commit()
    cal = sla.load_calendar(session)
    assert cal.is_working_day(date(2026, 11, 7)) and not cal.is_working_day(date(2026, 11, 3))
    assert _new_case_due(session, world, friday) == datetime(2026, 11, 10, 9)  # Fri, Sat, Mon → Tue 09:00
    # removing the closure restores the statutory calendar for new cases
    work_calendar.remove_calendar_override(session, world.actors["admin"], date(2026, 11, 3))
    session.commit()
    assert _new_case_due(session, world, start) == datetime(2026, 11, 5, 9)
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.action.startswith("calendar_")).order_by(AuditLog.id)
    ).all()
    assert actions == ["calendar_override_add", "calendar_override_add", "calendar_override_remove"]
    detail = json.loads(
        session.exec(select(AuditLog.detail).where(AuditLog.action == "calendar_override_remove")).one()
    )
    assert detail == {"day": "2026-11-03", "kind": "closure", "note": "防汛停工"}


def test_override_validation_saves_nothing(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    actor = world.actors["admin"]
    work_calendar.add_calendar_override(session, actor, date(2026, 11, 3), "closure")
    session.commit()
    for day, kind, note, key in [
        (date(2026, 11, 3), "workday", "", "admin.err_override_exists"),
        (date(2026, 10, 1), "closure", "", "admin.err_override_redundant_closure"),  # National Day
        (date(2026, 11, 7), "closure", "", "admin.err_override_redundant_closure"),  # Saturday
        (date(2026, 9, 20), "workday", "", "admin.err_override_redundant_workday"),  # swapped workday
        (date(2026, 11, 4), "holiday", "", "admin.err_override_kind"),
        (date(2026, 11, 4), "closure", "x" * 201, "admin.err_too_long"),
        (date(1999, 11, 4), "closure", "", "admin.err_year"),
        (datetime(2026, 11, 4, 9), "closure", "", "admin.err_date"),
    ]:
        with pytest.raises(DomainError) as err:
            work_calendar.add_calendar_override(session, actor, day, kind, note)  # type: ignore[arg-type]
        assert err.value.key == key, (day, kind)
        session.rollback()
    with pytest.raises(DomainError):
        work_calendar.remove_calendar_override(session, actor, date(2026, 11, 4))
    with pytest.raises(NotPermitted):
        work_calendar.add_calendar_override(session, world.actors["operator"], date(2026, 11, 4), "closure")
    session.rollback()
    with Session(get_engine(db_url)) as other:
        assert other.exec(select(CalendarOverride.day)).all() == [date(2026, 11, 3)]
        assert other.exec(select(func.count()).select_from(AuditLog)).one() == 1


def test_calendar_year_shows_holidays_swaps_and_overrides(env: tuple[Session, World]) -> None:
    session, world = env
    work_calendar.add_calendar_override(session, world.actors["admin"], date(2026, 11, 3), "closure", "停电")
    work_calendar.add_calendar_override(session, world.actors["admin"], date(2026, 11, 7), "workday")
    session.commit()
    days = {d.day: d for d in work_calendar.calendar_year(session, 2026)}
    assert len(days) == 365
    national = days[date(2026, 10, 1)]
    assert (national.holiday, national.statutory_working, national.working) == ("national_day", False, False)
    swapped = days[date(2026, 9, 20)]  # Sunday worked before National Day
    assert swapped.swapped_workday and swapped.working
    closure = days[date(2026, 11, 3)]
    assert (closure.statutory_working, closure.override, closure.note, closure.working) == (
        True,
        "closure",
        "停电",
        False,
    )
    extra = days[date(2026, 11, 7)]
    assert (extra.statutory_working, extra.override, extra.working) == (False, "workday", True)
    ordinary = days[date(2026, 11, 4)]
    assert (ordinary.holiday, ordinary.swapped_workday, ordinary.override, ordinary.working) == (
        None,
        False,
        None,
        True,
    )
    assert list(work_calendar.calendar_overrides(session, 2026)["day"]) == [
        date(2026, 11, 3),
        date(2026, 11, 7),
    ]
    assert work_calendar.calendar_overrides(session, 2025).empty

    assert work_calendar.year_source(session, 2026) == "package"
    assert work_calendar.year_source(session, 2030) == "fallback"
    # fallback: weekends and fixed days
    later = {d.day: d for d in work_calendar.calendar_year(session, 2030)}
    assert not later[date(2030, 10, 1)].working and later[date(2030, 10, 8)].working
    with pytest.raises(DomainError):
        work_calendar.calendar_year(session, 1900)


# ---------------------------------------------------------------- next year's notice, pasted

NOTICE_2027 = """国务院办公厅关于2027年部分节假日安排的通知（测试数据，不是真实通知）
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
经国务院批准，现将2027年元旦、春节和国庆节放假调休日期的具体安排通知如下。
一、元旦：1月1日（周五）至3日放假，共3天。1月9日（周六）上班。
二、春节：2月5日（农历除夕）至11日放假调休，共7天。2月13日（星期六）上班。
三、国庆节、中秋节：10月1日至8日放假调休，共8天。9月26日（周日）、10月9日（周六）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。
"""
"""Test data shaped like a State Council notice; the dates are made up (1 月 9 日 as a make-up working day
makes a January due date depend on the schedule). Production code holds no 2027 dates."""


def test_notice_wording_and_date_lines_are_read() -> None:
    schedule = work_calendar.parse_notice(NOTICE_2027, 2027)
    assert schedule.errors == ()
    assert schedule.skipped == (1, 2, 3, 7)  # the notice's prose: no dates
    days = {p.day: p for p in schedule.days}
    assert [d for d, p in days.items() if p.working] == [
        date(2027, 1, 9),
        date(2027, 2, 13),
        date(2027, 9, 26),
        date(2027, 10, 9),
    ]
    off = [d for d, p in days.items() if not p.working]
    assert len(off) == 3 + 7 + 8 and off[:3] == [date(2027, 1, d) for d in (1, 2, 3)]
    assert (days[date(2027, 1, 1)].name, days[date(2027, 1, 1)].line) == ("元旦", 4)
    assert days[date(2027, 10, 8)].name == "国庆节、中秋节"

    plain_lines = "2027-01-01~2027-01-03 休\n2027/02/07 班\n  \n元旦 2026年12月31日 休\n"
    simple = work_calendar.parse_notice(plain_lines, 2027)
    assert simple.errors == () and simple.skipped == ()
    assert [(p.day, p.working) for p in simple.days] == [
        (date(2026, 12, 31), False),  # a notice's 元旦 may start in December before
        (date(2027, 1, 1), False),
        (date(2027, 1, 2), False),
        (date(2027, 1, 3), False),
        (date(2027, 2, 7), True),
    ]
    across = work_calendar.parse_notice("元旦：12月30日至1月1日放假调休，共3天。", 2027)
    assert [p.day for p in across.days] == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]


def test_unreadable_lines_are_named_and_nothing_is_saved(world: World) -> None:
    text = "\n".join(
        [
            "一、元旦：1月1日至3日放假，共4天。",  # count
            "1月4日（周六）上班。",  # 2027-01-04 is a Monday
            "2027-02-30 休",
            "2027-03-01",  # no kind
            "3日放假",  # no month
            "2027-01-02 班",  # contradicts line 1
            "2028-01-05 休",  # outside the 2027 notice
            "2027-05-01~ 休",
            "2027-05-01~2027-07-01 休",
        ]
    )
    schedule = work_calendar.parse_notice(text, 2027)
    assert [(e.line, e.key) for e in schedule.errors] == [
        (1, "admin.cal_paste_err_count"),
        (2, "admin.cal_paste_err_weekday"),
        (3, "admin.cal_paste_err_date"),
        (4, "admin.cal_paste_err_no_kind"),
        (5, "admin.cal_paste_err_month"),
        (7, "admin.cal_paste_err_outside"),
        (8, "admin.cal_paste_err_range_end"),
        (9, "admin.cal_paste_err_range_long"),
    ]  # line 6 is checked against line 1, which was not read
    assert schedule.errors[1].text == "1月4日（周六）上班。"
    assert dict(schedule.errors[0].values) == {"said": 4, "counted": 3}
    conflict = work_calendar.parse_notice("2027-01-01 休\n2027-01-01 班", 2027)
    assert [(e.line, e.key, e.values["other"]) for e in conflict.errors] == [
        (2, "admin.cal_paste_err_conflict", 1)
    ]

    admin = world.actors["admin"]
    with world.session() as s:
        for bad, key in [
            (text, "admin.cal_paste_err_unread"),
            ("无日期的说明", "admin.cal_paste_err_empty"),
            ("x" * 20_001, "admin.err_too_long"),
        ]:
            with pytest.raises(DomainError) as err:
                work_calendar.save_schedule(s, admin, 2027, bad)
            assert err.value.key == key
            s.rollback()
        with pytest.raises(NotPermitted):
            work_calendar.save_schedule(s, world.actors["operator"], 2027, NOTICE_2027)
        s.rollback()
        assert s.exec(select(func.count()).select_from(StatutoryDay)).one() == 0
        assert s.exec(select(func.count()).select_from(AuditLog)).one() == 0


@pytest.mark.world(CASE_LOOP, frozen_at=datetime(2027, 1, 4, 9))
def test_2027_due_date_follows_the_pasted_schedule(world: World) -> None:
    """Clock at Monday 2027-01-04 09:00: a 5-working-day case (ADM) is due on the notice's make-up Saturday
    once the schedule is held, on Monday 11 January while the year runs on the weekend fallback."""
    admin, operator = world.actors["admin"], world.actors["operator"]

    def new_case_due(s: Session) -> datetime:
        ref = case_intake.create_case(
            s,
            operator,
            NewCase(
                category_id=world.category["ADM"],
                title="上级交办：路灯",
                source=CaseSource.hotline,
                grid_id=world.grid_ids[0],
            ),
        )
        s.commit()
        due = s.get(Case, ref.id).due_at  # type: ignore[union-attr]
        assert due is not None
        return due

    with world.session() as s:
        assert work_calendar.missing_years(s, clock.now().date()) == [2027]
        assert new_case_due(s) == datetime(2027, 1, 11, 9)  # fallback: Tue–Fri, Mon

        preview = work_calendar.preview_schedule(s, work_calendar.parse_notice(NOTICE_2027, 2027))
        january = preview.iloc[0]
        assert (january.working_before, january.working_after, january.makeup_days) == (20, 21, 1)
        october = preview.iloc[9]
        # fallback Oct 1–7 off; the notice: Oct 1–8 off and Saturday 9 worked
        assert (october.working_before, october.working_after, october.days_off, october.makeup_days) == (
            16,
            16,
            8,
            1,
        )
        assert (preview.iloc[8].working_before, preview.iloc[8].working_after) == (22, 23)  # Sunday 26 Sept
        assert s.exec(select(func.count()).select_from(StatutoryDay)).one() == 0  # a preview saves nothing

        saved = work_calendar.save_schedule(s, admin, 2027, NOTICE_2027)
        s.commit()
        assert len(saved.days) == 22
        assert work_calendar.year_source(s, 2027) == "entered"
        assert work_calendar.missing_years(s, clock.now().date()) == []
        assert new_case_due(s) == datetime(2027, 1, 9, 9)  # Tue, Wed, Thu, Fri, the make-up Saturday
        cal = sla.load_calendar(s)
        assert not cal.is_working_day(date(2027, 10, 8))  # entered day off
        assert cal.is_working_day(date(2027, 5, 3))  # held year: weekends only, no fixed fallback days

        # pasting again replaces the year's schedule (here: without the make-up Saturday)
        work_calendar.save_schedule(s, admin, 2027, NOTICE_2027.replace("1月9日（周六）上班。", ""))
        s.commit()
        assert new_case_due(s) == datetime(2027, 1, 11, 9)
        details = [
            json.loads(d)
            for d in s.exec(
                select(AuditLog.detail)
                .where(AuditLog.action == "calendar_schedule_save")
                .order_by(AuditLog.id)
            ).all()
        ]
        assert [(d["year"], len(d["days_off"]), d["working_days"][:1], d["replaced"]) for d in details] == [
            (2027, 18, ["2027-01-09"], 0),
            (2027, 18, ["2027-02-13"], 22),
        ]


@pytest.mark.world(CASE_LOOP, frozen_at=datetime(2027, 1, 4, 9))
def test_admin_start_page_warns_while_the_year_is_missing(world: World, login) -> None:  # type: ignore[no-untyped-def]
    warning = t("admin.cal_missing_warning", "zh", years="2027")
    at = login(world.url, "admin")
    assert warning in [w.value for w in at.warning]
    assert t("admin.cal_missing_link", "zh") in [link.proto.label for link in at.get("page_link")]
    assert not [w for w in login(world.url, "operator").warning if w.value == warning]  # admins only

    with world.session() as s:
        work_calendar.save_schedule(s, world.actors["admin"], 2027, NOTICE_2027)
        s.commit()
    assert warning not in [w.value for w in login(world.url, "admin").warning]


def test_missing_years_from_november(env: tuple[Session, World]) -> None:
    session, _ = env
    assert work_calendar.missing_years(session, date(2026, 10, 31)) == []  # 2026 is in the package
    assert work_calendar.missing_years(session, date(2026, 11, 1)) == [2027]
    assert work_calendar.missing_years(session, date(2027, 3, 1)) == [2027]
    assert work_calendar.missing_years(session, date(2027, 11, 30)) == [2027, 2028]


@pytest.mark.world(CASE_LOOP, frozen_at=datetime(2026, 12, 2, 10))
def test_calendar_page_pastes_previews_and_saves_next_year(world: World, login) -> None:  # type: ignore[no-untyped-def]
    at = login(world.url, "admin", "pages/admin_calendar.py")
    assert at.selectbox(key="cal_year").value == 2027  # December: next year is missing, so it opens there
    assert t("admin.cal_unknown_year", "zh", year=2027) in [w.value for w in at.warning]

    bad = NOTICE_2027.replace("1月9日（周六）", "1月9日（周日）")
    at.text_area(key="cal_paste_text").input(bad).run()
    assert at.error[0].value == t("admin.cal_paste_errors", "zh", n=1)
    reason = t("admin.cal_paste_err_weekday", "zh", day="2027-01-09", said="周日", weekday="六")
    line = "一、元旦：1月1日（周五）至3日放假，共3天。1月9日（周日）上班。"
    expected = "- " + t("admin.cal_paste_err_line", "zh", line=4, text=line, reason=reason)
    assert expected in [m.value for m in at.markdown]
    assert at.text_area(key="cal_paste_text").value == bad  # the pasted text stays
    assert not [b for b in at.button if b.key == "cal_paste_save"]

    at.text_area(key="cal_paste_text").input(NOTICE_2027).run()
    assert not at.error
    assert at.button(key="cal_paste_save").label == t("admin.cal_paste_save", "zh", year=2027)
    # changed again and saved in the same step: the preview shown was of other text, so nothing is saved
    at.text_area(key="cal_paste_text").input(NOTICE_2027 + "2027-04-05 休\n")
    at.button(key="cal_paste_save").click().run()
    assert t("admin.cal_paste_changed", "zh") in [w.value for w in at.warning]
    with world.session() as s:
        assert s.exec(select(func.count()).select_from(StatutoryDay)).one() == 0

    at.button(key="cal_paste_save").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == t("admin.cal_paste_saved", "zh", year=2027, off=19, work=4)
    assert t("admin.cal_source_entered", "zh", year=2027) in [i.value for i in at.info]
    with world.session() as s:
        assert s.exec(select(func.count()).select_from(StatutoryDay)).one() == 23
        assert s.exec(select(AuditLog.target).where(AuditLog.action == "calendar_schedule_save")).all() == [
            "2027"
        ]


def test_a_day_belongs_to_one_notice(env: tuple[Session, World]) -> None:
    session, world = env
    admin = world.actors["admin"]
    work_calendar.save_schedule(session, admin, 2027, "元旦：2026年12月31日至2027年1月2日放假，共3天。")
    session.commit()
    assert work_calendar.year_source(session, 2027) == "entered"
    assert work_calendar.year_source(session, 2026) == "package"  # a December day does not make 2026 held
    assert not sla.load_calendar(session).is_working_day(date(2026, 12, 31))  # entered wins over the package
    with pytest.raises(DomainError) as err:
        work_calendar.save_schedule(session, admin, 2026, "2026-12-31 休")
    assert (err.value.key, err.value.values) == (
        "admin.cal_paste_err_other_year",
        {"day": "2026-12-31", "year": 2027},
    )
    session.rollback()
    days = {d.day: d for d in work_calendar.calendar_year(session, 2027)}
    assert (days[date(2027, 1, 1)].entered_name, days[date(2027, 1, 1)].holiday) == ("元旦", None)
    assert days[date(2027, 1, 4)].entered_name is None and days[date(2027, 1, 4)].working
