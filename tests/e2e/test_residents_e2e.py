"""The residents' public pages (issue 23) in Chromium at 360×740, on one app server for the module: a
report with a photo from a grid's QR link (grid preselected), its receipt (number + 查询码), the lookup (the
photo once staff marked it public; its URL refused without the lookup) and the rating after staff closed
the case; a 附议 on an existing case behind the CAPTCHA; the rate limit; ten
wrong 查询码 locking that lookup; no request to another host (route interception) and nobody else's personal
data on the pages. Screenshots of the four screens to ``TEST_ARTIFACTS`` (else test-artifacts/)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlparse
from urllib.request import urlopen

import pytest
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.admin.settings import set_setting
from dashboard.cases import commands as cases
from dashboard.cases.intake import NewCase, create_case, find_duplicates
from dashboard.db import dispose_engines, get_engine
from dashboard.media import attachments
from dashboard.residents import captcha
from dashboard.residents.common import RESIDENT
from models import Building, Case, Category, Department, Grid, PublicReport, User
from models.enums import CaseSource, CaseStatus, Role, Satisfaction
from tests import photo_samples as samples
from tests import words
from tests.e2e import browser as b

PHONE = (360, 740)
SECRET = "e2e-residents-secret-key"
STAFF_REPORTER = ("王大爷", "13900000001")


@dataclass
class Public:
    base: str
    url: str
    grid_code: str
    grid_id: int
    buildings: list[int]


def _session(url: str) -> Session:
    return Session(get_engine(url), expire_on_commit=False)


def _quiet_buildings(s: Session, category_id: int) -> tuple[Grid, list[int]]:
    """A grid with two buildings where no open case of the category was reported in the last day."""
    for grid in s.exec(select(Grid).order_by(Grid.code)).all():
        quiet = [
            b.id
            for b in s.exec(select(Building).where(Building.grid_id == grid.id).order_by(Building.id)).all()
            if not find_duplicates(s, RESIDENT, category_id, b.lon, b.lat, clock.now())
        ]
        if len(quiet) >= 2:
            return grid, quiet[:2]  # type: ignore[return-value]
    raise AssertionError("no quiet grid in the seed")


@pytest.fixture(scope="module")
def public(seed_templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("residents-e2e")
    shutil.copyfile(seed_templates.get("sqlite").removeprefix("sqlite:///"), folder / "e2e.db")
    url = f"sqlite:///{folder / 'e2e.db'}"
    env = {"DASHBOARD_SECRET_KEY": SECRET, "DASHBOARD_MEDIA_DIR": str(folder / "media")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)  # the test computes CAPTCHA answers with the server's secret
        with _session(url) as s:
            admin = s.exec(select(User).where(User.role == Role.admin)).first()
            assert admin is not None
            set_setting(s, actor_of(admin), "residents.reports_per_hour", 2)
            set_setting(s, actor_of(admin), "residents.reports_per_day", 2)  # also across an hour
            env_id = s.exec(select(Category.id).where(Category.code == "ENV")).one()
            grid, buildings = _quiet_buildings(s, env_id)
            s.commit()
        dispose_engines()
        with b.running_app(url, env=env) as base:
            yield Public(base, url, grid.code, grid.id, buildings)  # type: ignore[arg-type]


def _page(chromium, public: Public):  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, public.base, *PHONE)
    own = urlparse(public.base).netloc
    blocked: list[str] = []

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).netloc == own:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.context.route("**/*", guard)
    page.blocked = blocked
    return page


def _clean(page) -> None:  # type: ignore[no-untyped-def]
    assert not page.blocked, page.blocked
    assert not page.watch.console_errors, page.watch.console_errors
    assert not page.watch.outside_requests, page.watch.outside_requests


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(os.environ.get("TEST_ARTIFACTS") or b.ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _chinese_only(page, *codes: str) -> None:  # type: ignore[no-untyped-def]
    text = page.locator("main").inner_text()
    for code in codes:
        text = text.replace(code, " ")
    assert not words.findings([(page.url, text)]), words.findings([(page.url, text)])


def _fill_report(page, public: Public, building: int, text: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{public.base}/public/report?grid={public.grid_code}")
    assert page.locator("#grid").input_value() == str(public.grid_id)  # preselected by the QR link
    page.locator("#building").select_option(str(building))
    page.locator("input[name=topic][value=litter]").check()
    page.locator("#description").fill(text)


def _solve_captcha(page) -> None:  # type: ignore[no-untyped-def]
    token = page.locator("input[name=captcha_token]").input_value()
    page.locator("#captcha").fill(captcha.answer(token))


def _close_by_staff(url: str, case_id: int) -> None:
    """受理 → 派遣 → 处置 → 核查 → 结案 by the command centre, through the domain functions."""
    with _session(url) as s:
        op = actor_of(s.exec(select(User).where(User.role == Role.operator)).first())  # type: ignore[arg-type]
        dept = s.exec(select(Department.id).order_by(Department.id)).first()
        ref = cases.accept(s, op, case_id, s.get(Case, case_id).version)  # type: ignore[union-attr]
        ref = cases.dispatch(s, op, ref.id, ref.version, department_id=dept)
        ref = cases.start(s, op, ref.id, ref.version)
        ref = cases.resolve(s, op, ref.id, ref.version, "已清运，垃圾桶已清洗消毒")
        ref = cases.verify(s, op, ref.id, ref.version)
        cases.close(s, op, ref.id, ref.version)
        s.commit()
    dispose_engines()


def test_report_from_qr_link_with_photo_lookup_and_rating(public: Public, chromium) -> None:  # type: ignore[no-untyped-def]
    page = _page(chromium, public)
    _fill_report(page, public, public.buildings[0], "楼下垃圾桶满了三天，没人清运")
    page.locator("#photos").set_input_files(
        [{"name": "rubbish.jpg", "mimeType": "image/jpeg", "buffer": samples.jpeg((90, 140, 60), "bin")}]
    )
    assert page.locator("#captcha").count() == 0  # the first report of the day needs no CAPTCHA
    _chinese_only(page)
    _shot(page, "public-1-report")
    page.locator("button[value=submit]").click()
    number = page.locator("#case-number").inner_text()
    code = page.locator("#lookup-code").inner_text()
    assert re.fullmatch(r"XL\d{8}-\d{4}", number) and len(code) == 6
    _chinese_only(page, code)
    _shot(page, "public-2-receipt")
    with _session(public.url) as s:
        case = s.exec(select(Case).where(Case.number == number)).one()
        assert case.source == CaseSource.resident and case.grid_id == public.grid_id
        assert case.reporter_anonymous and not case.reporter_phone
        photos = (
            s.connection()
            .exec_driver_sql("SELECT count(*) FROM case_attachments WHERE case_id = ?", (case.id,))
            .scalar()
        )
        assert photos == 1
        # the command centre checks the resident's photo and marks it public (not public by default)
        op = actor_of(s.exec(select(User).where(User.role == Role.operator)).first())  # type: ignore[arg-type]
        (photo_id,) = [p.id for p in attachments.photos_of(s, op, case_id=case.id)]  # type: ignore[arg-type]
        attachments.set_public(s, op, attachment_id=photo_id, public=True)
        s.commit()
    dispose_engines()

    page.get_by_role("link", name="查看处理进度").click()
    assert page.locator("#number").input_value() == number
    page.locator("#secret").fill(code.lower())
    page.locator("form button").click()
    page.wait_for_url("**/public/case")
    assert "已受理" in page.locator("#timeline").inner_text()
    thumb = page.locator("#photos img")
    assert thumb.count() == 1 and thumb.evaluate("img => img.complete && img.naturalWidth") == 320
    src = thumb.get_attribute("src")
    assert src == f"/public/photo/{photo_id}/thumb"
    with pytest.raises(HTTPError) as refused:  # the photo's URL without the proven lookup
        urlopen(public.base + src, timeout=10)
    assert refused.value.code == 403
    _chinese_only(page, code)
    _shot(page, "public-3-lookup")

    _close_by_staff(public.url, case.id)  # type: ignore[arg-type]
    page.reload()
    assert page.locator("#reply").inner_text() == "已清运，垃圾桶已清洗消毒"
    page.locator("input[name=rating][value=satisfied]").check()
    page.locator("#comment").fill("处理得很及时，谢谢！")
    _shot(page, "public-4-rating")
    page.locator("form[action='/public/rate'] button").click()
    assert "谢谢您的评价" in page.locator(".ok").inner_text()
    with _session(public.url) as s:
        case = s.exec(select(Case).where(Case.number == number)).one()
        assert case.satisfaction == Satisfaction.satisfied and case.status == CaseStatus.closed
        row = s.exec(select(PublicReport).where(PublicReport.case_id == case.id)).one()
        assert row.rating_counted
        staff = [n for (n,) in s.connection().exec_driver_sql("SELECT display_name FROM users").all()]
    dispose_engines()
    body = page.locator("body").inner_text()
    assert not [n for n in staff if n and n in body]  # never a staff name
    page.goto(f"{public.base}/public/case?lang=en")
    assert page.locator("h1").inner_text() == "Progress"
    _clean(page)
    page.context.close()


def test_support_on_an_existing_case_behind_the_captcha(public: Public, chromium) -> None:  # type: ignore[no-untyped-def]
    with _session(public.url) as s:
        op = actor_of(s.exec(select(User).where(User.role == Role.operator)).first())  # type: ignore[arg-type]
        env_id = s.exec(select(Category.id).where(Category.code == "ENV")).one()
        name, phone = STAFF_REPORTER
        staff_case = create_case(
            s,
            op,
            NewCase(
                category_id=env_id,
                title="垃圾桶满溢",
                source=CaseSource.hotline,
                building_id=public.buildings[1],
                address="2单元301",
                reporter_name=name,
                reporter_phone=phone,
            ),
        )
        s.commit()
    dispose_engines()
    page = _page(chromium, public)
    _fill_report(page, public, public.buildings[1], "这里的垃圾桶也满了")
    assert page.locator("img.captcha").evaluate("img => img.complete && img.naturalWidth") == 200
    page.locator("#captcha").fill("0000")
    page.locator("button[value=submit]").click()
    assert "验证码不正确" in page.locator(".field-error").inner_text()
    assert page.locator("#description").input_value() == "这里的垃圾桶也满了"  # kept for the new try
    _solve_captcha(page)
    page.locator("button[value=submit]").click()
    assert "附议" in page.locator(".ok").inner_text()
    assert page.locator("#case-number").inner_text() == staff_case.number
    code = page.locator("#lookup-code").inner_text()
    page.get_by_role("link", name="查看处理进度").click()
    page.locator("#secret").fill(code)
    page.locator("form button").click()
    page.wait_for_url("**/public/case")
    body = page.locator("body").inner_text()
    assert "另有 1 位居民" in body
    assert name not in body and phone not in body and "139****0001" not in body and "2单元301" not in body
    _clean(page)
    page.context.close()


def test_rate_limit_refuses_the_third_report_of_the_hour(public: Public, chromium) -> None:  # type: ignore[no-untyped-def]
    page = _page(chromium, public)
    _fill_report(page, public, public.buildings[0], "路灯不亮了")
    _solve_captcha(page)
    page.locator("button[value=submit]").click()
    assert "提交太频繁" in page.locator(".error").inner_text()
    assert page.locator("#case-number").count() == 0
    _clean(page)
    page.context.close()


def test_ten_wrong_codes_lock_that_lookup(public: Public, chromium) -> None:  # type: ignore[no-untyped-def]
    with _session(public.url) as s:
        number = s.exec(
            select(Case.number).where(Case.source == CaseSource.resident).order_by(Case.id)
        ).first()
    dispose_engines()
    page = _page(chromium, public)
    page.goto(f"{public.base}/public/lookup?number={number}")
    for _ in range(10):
        page.locator("#secret").fill("ZZZZZZ")
        page.locator("form button").click()
        assert "不正确" in page.locator(".error").inner_text()
    page.locator("#secret").fill("ZZZZZZ")
    page.locator("form button").click()
    assert "锁定" in page.locator(".error").inner_text()
    _clean(page)
    page.context.close()
