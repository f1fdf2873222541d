"""Log in through the form in Chromium and open every page from the sidebar: no exception, no console error, nothing
requested from another host; with ``TEST_ARTIFACTS`` set, a screenshot of each page goes to test-artifacts/."""

from __future__ import annotations

import os
import re

import pytest

from dashboard.ui.nav import pages_for
from models.enums import Role
from tests.e2e import browser as b


@pytest.mark.parametrize(("username", "role"), [("admin", Role.admin), ("grid", Role.grid_worker)])
def test_every_page_in_chromium(username: str, role: Role, app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    """The administrator's walk runs in an English browser: the Chinese interface must not take the
    browser's language for its own (Streamlit's calendar does, see _calendar_reads_chinese)."""
    width, height = (390, 844) if role == Role.grid_worker else (1920, 1080)
    page = b.new_page(chromium, app_base, width, height, locale="en-US" if role == Role.admin else "zh-CN")
    b.login_page(page, app_base, username)
    visited = []
    for spec in pages_for(role):
        b.nav(page, app_base, spec.url_path)
        b.assert_clean(page)
        if spec.url_path == "audit":
            _calendar_reads_chinese(page)
        if os.environ.get("TEST_ARTIFACTS"):  # a full-page shot of every page costs a minute
            b.shot(page, f"{username}-{spec.url_path}")
        visited.append(spec.url_path)
    assert len(visited) == len(pages_for(role))
    page.context.close()


def _calendar_reads_chinese(page) -> None:  # type: ignore[no-untyped-def]
    """The date field's calendar names its month and weekdays in the browser's language: the page's script
    writes them from the catalogue (dashboard/ui/own_calendar.py), also after turning the month, and the
    month picker's list. (Its screen-reader texts stay as Streamlit writes them.)"""
    page.locator('[data-testid="stDateInputCalendarButton"]').first.click()
    calendar = page.locator('[data-testid="stDateInputCalendar"]')
    calendar.wait_for(timeout=10000)
    month = calendar.locator('button[aria-label="month"]')
    shown = []
    for turn in range(2):
        page.wait_for_timeout(300)
        heads = [h.strip() for h in calendar.locator("thead th").all_inner_texts()]
        assert sorted(heads) == sorted("日一二三四五六"), heads
        shown.append(month.inner_text().strip())
        assert re.fullmatch(r"\d{1,2}月", shown[-1]), shown
        if turn == 0:  # the previous month: React writes the month again, the script follows
            calendar.locator('button[aria-label="Previous month"]').click()
    assert shown[0] != shown[1], shown
    month.click()
    page.wait_for_timeout(300)
    months = page.locator('[data-testid="stDateInputHeaderPickerPopover"] [role="option"]').all_inner_texts()
    assert [m.strip() for m in months] == [f"{n}月" for n in range(1, 13)], months
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")


def test_reload_keeps_login_and_logout_ends_it(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base)
    b.login_page(page, app_base, "operator")
    page.reload()
    b.settle(page, 1000)
    assert page.locator("[data-testid=stSidebar]").count() == 1, "a reload keeps the user logged in"
    page.locator(".st-key-logout button").click()
    b.settle(page, 1000)
    page.reload()
    b.settle(page, 1000)
    assert page.locator(".st-key-login_username input").count() == 1, "after logout a reload shows the login"
    b.assert_clean(page)
    page.context.close()


def test_a_shared_link_opens_after_login(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    """Someone opening a link to a map view before logging in lands on that view, not the start page."""
    page = b.new_page(chromium, app_base)
    page.goto(f"{app_base}/map?community=XL-03")
    b.settle(page)
    page.locator(".st-key-login_username input").fill("operator")
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_submit button").click()
    page.wait_for_selector("[data-testid=stSidebar]", state="attached", timeout=60000)
    b.settle(page, 1500)
    assert "/map" in page.url and "community=XL-03" in page.url, page.url
    assert page.locator(".st-key-crumb_community").count() == 1
    b.assert_clean(page)
    page.context.close()
