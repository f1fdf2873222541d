"""The case loop clicked through in Chromium: queue → search → select the row → open the case → an action in
its dialog → the timeline shows it; a deep link; intake on a 390 px phone. Screenshots of the queue, the
case page and the phone intake go to docs/screenshots/."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from dashboard import clock
from tests.e2e import browser as b


def _db(url: str, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, args).fetchall()


def _login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Like browser.login_page, but also on a phone, where the sidebar starts collapsed."""
    page.goto(base)
    b.settle(page)
    page.locator(".st-key-login_username input").fill(username)
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_submit button").click()
    page.wait_for_selector("[data-testid=stSidebarNav]", state="attached", timeout=60000)
    b.settle(page, 1000)


def _timeline(page) -> str:  # type: ignore[no-untyped-def]
    """The text of the timeline table (its accessible copy of the cells, which the canvas grid keeps in the DOM)."""
    table = page.locator("[data-testid=stDataFrame]").filter(has_text="操作人").first
    table.wait_for(state="attached", timeout=30000)
    return table.text_content() or ""


def test_queue_detail_action_timeline(e2e_db_url: str, app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    number, case_id = _db(
        e2e_db_url, "SELECT number, id FROM cases WHERE status = 'accepted' ORDER BY due_at DESC, id DESC"
    )[0]
    # The queue opens on 待办, cases with time left (overdue ones have their view): give this one time left,
    # as the small seed may hold no accepted case still in time (e.g. just after midnight).
    now = clock.now()
    _db(
        e2e_db_url,
        "UPDATE cases SET warn_at = ?, due_at = ?, black_at = ? WHERE id = ?",
        *(f"{now + timedelta(days=d):%Y-%m-%d %H:%M:%S.%f}" for d in (2, 3, 6)),
        case_id,
    )
    operator = _db(e2e_db_url, "SELECT display_name FROM users WHERE username = 'operator'")[0][0]
    page = b.new_page(chromium, app_base, 1440, 900)
    _login(page, app_base, "operator")
    b.nav(page, app_base, "queue")
    assert page.locator("[data-testid=stDataFrame]").count() >= 1
    b.assert_clean(page)
    b.shot(page, "queue", docs=True)

    page.locator(".st-key-qf_q input").fill(number)
    page.keyboard.press("Enter")
    b.settle(page, 1000)
    table = page.locator("[data-testid=stDataFrame]").first
    assert number in (table.text_content() or "")
    box = table.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the row's selection box
    b.settle(page, 1000)
    page.locator(".st-key-queue_open button").click()
    page.wait_for_selector(".st-key-act_dispatch", timeout=30000)
    b.settle(page, 1000)
    assert f"case={number}" in page.url

    page.locator(".st-key-act_dispatch button").click()
    dialog = page.locator("[role=dialog]")
    dialog.wait_for(timeout=30000)
    b.settle(page, 500)
    dialog.locator(f".st-key-dlg_dispatch_{case_id}_ok button").click()
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    b.settle(page, 1000)
    assert page.locator("[role=dialog]").count() == 0
    timeline = _timeline(page)
    assert "派遣" in timeline and operator in timeline
    b.assert_clean(page)
    b.shot(page, "case_detail", docs=True)
    assert _db(e2e_db_url, "SELECT status FROM cases WHERE id = ?", case_id) == [("dispatched",)]
    assert _db(
        e2e_db_url,
        "SELECT e.action FROM case_events e JOIN users u ON u.id = e.actor_id "
        "WHERE e.case_id = ? AND u.username = 'operator' ORDER BY e.id DESC LIMIT 1",
        case_id,
    ) == [("dispatch",)]

    # a deep link opens the same case in a fresh tab (the page loads the app first, so only check content)
    deep = page.context.new_page()
    deep.goto(f"{app_base}/case?case={number}")
    deep.wait_for_selector(".st-key-act_start", timeout=60000)
    b.settle(deep, 1000)
    assert not b.exceptions(deep)
    assert "派遣" in _timeline(deep)
    page.context.close()


def test_intake_on_a_phone(e2e_db_url: str, app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base, 390, 844)
    _login(page, app_base, "community")  # the grid worker records on the phone's own quick intake
    b.nav(page, app_base, "intake")
    form = page.locator("[data-testid=stForm]")
    assert form.bounding_box()["width"] <= 390
    page.locator(".st-key-intake0_category").click()
    page.keyboard.type("环境")
    page.keyboard.press("Enter")
    page.locator(".st-key-intake0_building").click()  # the place by building: grid and point follow
    page.keyboard.type("1号楼")
    page.keyboard.press("Enter")
    page.locator(".st-key-intake0_title input").fill("3号楼楼道堆放纸箱")
    page.locator(".st-key-intake0_description textarea").fill("三楼至五楼楼道堆满纸箱，影响通行。")
    page.locator(".st-key-intake0_address input").fill("2单元301")
    page.locator(".st-key-intake0_name input").fill("王小明")
    page.locator(".st-key-intake0_phone input").fill("13812345678")
    page.locator("h1").first.click()  # leave the last field, so its "press Enter" hint goes
    page.evaluate("document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    b.settle(page, 500)
    b.shot(page, "intake_phone", docs=True)
    page.locator(".st-key-intake0_submit button").click()
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    message = page.locator("[data-testid=stAlertContentSuccess]").inner_text()
    number = message.split()[-1]
    assert number.startswith("XL")
    row = _db(
        e2e_db_url,
        "SELECT c.title, c.source, c.reporter_phone, c.address, b.name FROM cases c "
        "JOIN buildings b ON b.grid_id = c.grid_id AND b.lon = c.lon AND b.lat = c.lat WHERE c.number = ?",
        number,
    )
    assert [r[:3] for r in row] == [("3号楼楼道堆放纸箱", "hotline", "13812345678")]
    assert row[0][3] == f"{row[0][4]}2单元301"
    b.assert_clean(page)
    b.shot(page, "intake_phone_saved")
    page.context.close()
