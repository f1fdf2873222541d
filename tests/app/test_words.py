"""A new user reads Chinese: every page of every role, and the report's files, show no "None"/"nan", no i18n
key, no raw enum value and no English beyond the short allowlist in tests/words.py.

SQLite only: the words come from the i18n catalogue and the seed, which are the same on both backends, and the
PostgreSQL runs of tests/app/test_pages.py already render every page there. One AppTest session per role.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from dashboard import clock
from dashboard.db import session_scope
from dashboard.kernel.scope import Actor
from dashboard.reporting import reports
from dashboard.reporting.deck import build_deck
from dashboard.reporting.kpi import Period
from dashboard.reporting.workbook import build_workbook
from dashboard.ui.nav import pages_for
from models.enums import Role
from tests import words
from tests.app.test_pages import DEMO
from tests.conftest import ROOT, SQLITE_ONLY


def test_the_scanner_catches_what_it_is_for() -> None:
    found = words.findings(
        [
            ("cell", "None"),
            ("cell", "nan"),
            ("caption", "queue.title"),
            ("cell", "已核查 verified → closed"),
            ("metric", "+2.0 pt"),
            ("chart", "Nov 8 2026"),
        ]
    )
    joined = "\n".join(found)
    for expected in ("'None'", "'nan'", "'queue.title'", "'verified'", "'closed'", "'pt'", "'Nov'"):
        assert expected in joined, (expected, found)
    assert not words.findings(
        [("caption", "网格 XL-01-01 导出 Excel（CSV）"), ("link", "[案件](/case?id=3)")]
    )


def test_the_scanner_catches_english_dates_on_chart_axes() -> None:
    spec = '{"data": [{"x": ["2026-11-08", "2026-11-09"], "y": [1, 2]}], "layout": {"xaxis": {}}}'
    assert words.date_axes_without_format(spec) == ["xaxis"]
    spec = '{"data": [{"x": ["2026-11-08"], "y": [1]}], "layout": {"xaxis": {"tickformat": "%m月%d日"}}}'
    assert words.date_axes_without_format(spec) == []


def _data_shown_as_is(url: str) -> dict[str, list[str]]:
    """Per page, the values it shows as they are: login names where accounts are managed or audited, and
    the catalogue's codes and English names where they are edited."""
    from sqlmodel import Session, create_engine, select

    from models import Category, Department, User

    engine = create_engine(url)
    with Session(engine) as s:
        users = list(s.exec(select(User.username)))
        categories = [v for c in s.exec(select(Category)) for v in (c.code, c.name_en)]
        departments = [d.code for d in s.exec(select(Department))]
    engine.dispose()
    return {
        "pages/admin_users.py": users,
        "pages/audit.py": users + [c for c in categories if c.isupper()],  # a category by its code (编号)
        "pages/admin_categories.py": categories,
        "pages/admin_departments.py": categories + departments,
    }


@SQLITE_ONLY
@pytest.mark.parametrize("role", list(DEMO), ids=[str(r) for r in DEMO])
def test_every_page_reads_in_chinese(role: Role, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    shown_as_is = _data_shown_as_is(seeded_ro_url)
    at = login(seeded_ro_url, DEMO[role])
    found: list[str] = []
    for page in pages_for(role):
        at.switch_page(page.path).run()
        # A page that fails is test_pages.py's finding; read the rest.
        found += [f"{page.path} raised: {e.value[:80]}" for e in at.exception]
        found += [
            f"{page.path} {line}" for line in words.page_findings(at._tree, shown_as_is.get(page.path, ()))
        ]
    assert not found, "\n".join(found)


@SQLITE_ONLY
def test_the_report_files_read_in_chinese(seeded_ro_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", seeded_ro_url)
    now = clock.now()
    month = Period(datetime(now.year, now.month, 1), now, "month")
    me = Actor(id=0, username="leader", display_name="领导", role=Role.leader)
    with session_scope() as s:
        report = reports.build_report(s, me, month, now=now, lang="zh")
    found = words.findings(words.workbook_text(build_workbook(report)))
    found += words.findings(words.deck_text(build_deck(report)))
    assert not found, "\n".join(found)


@SQLITE_ONLY
def test_the_queue_export_reads_in_chinese(seeded_ro_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue's CSV export (its rows as the queue page writes them, without the audit row of a download)."""
    from dashboard.cases.export import case_frames
    from dashboard.i18n import t_plain
    from dashboard.io.exports import to_csv_bytes
    from models import User

    monkeypatch.setenv("DATABASE_URL", seeded_ro_url)
    with session_scope() as s:
        user = s.exec(select(User).where(User.username == "operator")).one()
        me = Actor(user.id, user.username, user.display_name, Role(user.role))  # type: ignore[arg-type]
        frame = next(case_frames(s, me, lang="zh", page_size=1000))
    # The category's code has its own column (类别, the key an import of the file matches on), as the grid's
    # code (XL-01-01) has; everywhere else the file names the category.
    frame = frame.drop(columns=[t_plain("case_export.category", "zh")])
    found = words.findings(words.csv_text(to_csv_bytes(frame)))
    assert not found, "\n".join(found)


def test_every_first_start_step_has_a_name() -> None:
    """The first start's progress bar names each seeding step in Chinese (and English), never seed's id."""
    import re

    from dashboard.i18n import has

    source = (ROOT / "seed" / "generate.py").read_text(encoding="utf-8")
    steps = set(re.findall(r"report\([^,]+, \"([a-z_]+)\"\)", source))
    assert steps and not [
        (s, lang) for s in steps for lang in ("zh", "en") if not has(f"app.seed_step.{s}", lang)
    ]


@SQLITE_ONLY
def test_streamlits_own_english_is_replaced(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    """Streamlit's front end writes "Press Enter to apply", "Upload", "50MB per file", "YYYY/MM/DD" and the
    calendar's "November 2026" and "S M T W T F S" itself: every page carries the style and script that hide
    them or say them in Chinese (the calendar checked in a browser by tests/e2e/test_pages_e2e.py)."""
    at = login(seeded_ro_url, "admin", "pages/import_data.py")
    styles = " ".join(h.proto.body for h in at.get("html") if "<style>" in h.proto.body)
    assert 'data-testid="InputInstructions"' in styles and "stFileUploaderDropzoneInstructions" in styles
    assert "上传文件" in styles and "每个文件不超过 50MB" in styles
    # an empty date field's yyyy-mm-dd drawn as 年-月-日, and its calendar's month and weekday names
    assert '[data-placeholder="true"][data-type="year"]::after { content: "年"' in styles
    assert 'data-testid="stDateInputCalendar"' in styles and '"11月"' in styles and '"日", "一"' in styles


def test_the_calendar_words_are_complete_in_both_languages() -> None:
    """Twelve month names, a heading with the year and the month, seven weekday letters from Sunday."""
    from dashboard.ui.own_calendar import calendar_script, calendar_words

    for lang in ("zh", "en"):
        calendar = calendar_words(lang)
        assert len(calendar["months"]) == 12 and len(calendar["weekdays"]) == 7, lang
        assert "{year}" in str(calendar["heading"]) and "{month}" in str(calendar["heading"]), lang
    assert calendar_words("zh")["months"][10] == "11月" and calendar_words("en")["weekdays"][0] == "S"
    assert "</" not in calendar_script("zh")[len("<script>") : -len("</script>")]
