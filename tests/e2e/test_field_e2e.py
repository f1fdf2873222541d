"""The grid worker's pages on a 390×844 touch phone in Chromium: My grid, a case opened from it, Record a visit
and Quick intake render without horizontal scrolling, with no body text under 14 px and touch-sized
buttons inside the screen, and their actions work by tapping (start a case in its dialog, comment on the
case page, save a visit, submit a case for a resident). Full-length screenshots go to test-artifacts/ (docs/screenshots/ with DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlparse

from tests.e2e import browser as b

W, H = 390, 844
MIN_FONT_PX = 14
MIN_TAP_PX = 40
_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")
"""On a deep URL (…/visit) Streamlit's frontend first asks for …/visit/_stcore/health, gets 404 and falls back
to the root: those 404s (and their console lines) are expected."""


def _db(url: str, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, args).fetchall()


def _give_work(url: str) -> list[int]:
    """Two cases dispatched to the `grid` worker by the operator, through the case service; the first one
    made overdue (so My grid shows the ageing colours and the worker has something to start)."""
    from datetime import timedelta

    from sqlmodel import Session, select

    from dashboard import clock
    from dashboard.cases import commands as cases
    from dashboard.cases import intake as case_intake
    from dashboard.cases.intake import NewCase
    from dashboard.db import dispose_engines, get_engine
    from dashboard.kernel.scope import Actor
    from models import Case, Category, User
    from models.enums import CaseSource, Role

    ids = []
    with Session(get_engine(url)) as s:
        users = {
            u.username: u for u in s.exec(select(User).where(User.username.in_(["operator", "grid"]))).all()
        }
        op, gw = (
            Actor(u.id, u.username, u.display_name, Role(u.role), u.community_id, u.grid_id)  # type: ignore[arg-type]
            for u in (users["operator"], users["grid"])
        )
        for code, title in (("SAF", "3号楼楼道电动车充电"), ("ENV", "小区东门垃圾桶满溢")):
            category = s.exec(select(Category.id).where(Category.code == code)).one()
            data = NewCase(category_id=category, title=title, source=CaseSource.hotline, grid_id=gw.grid_id)
            ref = case_intake.create_case(s, op, data)
            ref = cases.accept(s, op, ref.id, ref.version)
            cases.dispatch(s, op, ref.id, ref.version, assignee_id=gw.id)
            ids.append(ref.id)
        late = s.get(Case, ids[0])
        assert late is not None
        now = clock.now()
        late.warn_at, late.due_at, late.black_at = (now - timedelta(hours=h) for h in (8, 2, -20))
        s.add(late)
        s.commit()
    dispose_engines()
    return ids


def _phone(chromium, base: str):  # type: ignore[no-untyped-def]
    """A touch phone context (like browser.new_page, with has_touch and is_mobile) and its page."""
    context = chromium.new_context(
        viewport={"width": W, "height": H}, has_touch=True, is_mobile=True, locale="zh-CN"
    )
    page = context.new_page()
    watch = b.Watch(own_host=urlparse(base).netloc)
    page.probes = 0
    page.on("console", lambda m: watch.console_errors.append(m.text[:300]) if m.type == "error" else None)
    page.on(
        "request",
        lambda r: (
            watch.outside_requests.append(r.url)
            if urlparse(r.url).netloc not in (watch.own_host, "") and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )

    def _response(r) -> None:  # type: ignore[no-untyped-def]
        if r.status == 404 and _PROBE.search(urlparse(r.url).path):
            page.probes += 1

    page.on("response", _response)
    page.watch = watch
    return page


def _login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Log in on the phone: the sidebar stays collapsed, so wait for the start page's title instead."""
    page.goto(base)
    b.settle(page)
    page.locator(".st-key-login_username input").fill(username)
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_submit button").tap()
    page.wait_for_selector("[data-testid=stMain] h1", timeout=60000)
    b.settle(page, 1000)


def _open(page, base: str, path: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """Open a page by its URL path (the grid worker's start page, My grid, is the root)."""
    page.goto(f"{base}/{path}")
    page.wait_for_selector(f"[data-testid=stMain] h1:has-text('{title}')", timeout=60000)
    b.settle(page, 1000)


def _assert_clean(page) -> None:  # type: ignore[no-untyped-def]
    assert not b.exceptions(page), b.exceptions(page)
    assert not page.watch.outside_requests, page.watch.outside_requests
    errors = list(page.watch.console_errors)
    for _ in range(page.probes):
        probe = next((e for e in errors if "404" in e and "Failed to load resource" in e), None)
        if probe:
            errors.remove(probe)
    assert not errors, errors
    assert not page.locator("[role=dialog]:has-text('Page not found')").count()


def _assert_phone_layout(page, check_taps: bool = True) -> None:  # type: ignore[no-untyped-def]
    """No horizontal scrolling, no visible text under 14 px in the main area, buttons inside the screen and
    tall enough to tap."""
    widths = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=stMain]');"
        " return [document.documentElement.scrollWidth, window.innerWidth, m.scrollWidth, m.clientWidth]; }"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    small = page.evaluate(
        """(min) => { const out = [];
        document.querySelectorAll('[data-testid=stMain] *').forEach(e => {
          if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) return;
          const r = e.getBoundingClientRect();
          if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') return;
          const px = parseFloat(getComputedStyle(e).fontSize);
          if (px < min) out.push(e.tagName + ' ' + px + 'px: ' + e.textContent.trim().slice(0, 40));
        }); return out; }""",
        MIN_FONT_PX,
    )
    assert not small, small
    if not check_taps:
        return
    buttons = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stMain] button')]
          .filter(e => e.textContent.trim() && e.getBoundingClientRect().height)
          .map(e => { const r = e.getBoundingClientRect();
                      return [e.textContent.trim().slice(0, 20), r.left, r.right, r.height]; })"""
    )
    assert buttons
    bad = [x for x in buttons if x[1] < 0 or x[2] > W or x[3] < MIN_TAP_PX]
    assert not bad, bad


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A full-length phone screenshot: the main area scrolls inside the page, so grow the viewport to it."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": W, "height": max(H, height)})
    page.wait_for_timeout(800)
    b.shot(page, name, full_page=False, docs=True)
    page.set_viewport_size({"width": W, "height": H})
    page.wait_for_timeout(300)


def _tap(page, key: str) -> None:  # type: ignore[no-untyped-def]
    target = page.locator(f".st-key-{key} button").first
    target.scroll_into_view_if_needed()
    target.tap()


def test_grid_worker_pages_on_a_phone(e2e_db_url: str, app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    (worker_id, grid_id) = _db(e2e_db_url, "SELECT id, grid_id FROM users WHERE username = 'grid'")[0]
    late, _ = _give_work(e2e_db_url)
    page = _phone(chromium, app_base)
    _login(page, app_base, "grid")

    # ---- My grid (the start page): to-do cards, the grid at a glance
    _open(page, app_base, "", "我的网格")
    assert page.locator("[class*=st-key-todo_card_]").count() >= 1
    _assert_phone_layout(page)
    _assert_clean(page)
    _shot(page, "phone_my_grid")

    # start the overdue case (on top) in its dialog, by tapping
    assert (
        page.locator("[class*=st-key-todo_card_]").first.get_attribute("class").find(f"todo_card_{late}") > 0
    )
    _tap(page, f"todo_start_{late}")
    dialog = page.locator("[role=dialog]")
    dialog.wait_for(timeout=30000)
    b.settle(page, 500)
    dialog.locator(f".st-key-dlg_start_{late}_ok button").tap()
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    b.settle(page, 1000)
    assert _db(e2e_db_url, "SELECT status FROM cases WHERE id = ?", late) == [("in_progress",)]
    assert _db(
        e2e_db_url, "SELECT actor_id FROM case_events WHERE case_id = ? AND action = 'start'", late
    ) == [(worker_id,)]
    assert page.locator(f".st-key-todo_resolve_{late}").count() == 1  # the next step is offered

    # ---- a case opened from My grid; an action there by tapping
    opener = page.locator("[class*=st-key-todo_open_] button").first
    opener.scroll_into_view_if_needed()
    opener.tap()
    page.wait_for_selector("[data-testid=stMain] .st-key-act_comment", timeout=60000)
    b.settle(page, 1000)
    number = page.url.rsplit("case=", 1)[1]
    assert number.startswith("XL")
    _assert_phone_layout(page, check_taps=False)  # the case page's table tools are small icons, not actions
    _tap(page, "act_comment")
    dialog = page.locator("[role=dialog]")
    dialog.wait_for(timeout=30000)
    b.settle(page, 500)
    case_id = _db(e2e_db_url, "SELECT id FROM cases WHERE number = ?", number)[0][0]
    dialog.locator(f".st-key-dlg_comment_{case_id}_note textarea").fill("已电话联系居民，明天上门")
    dialog.locator(f".st-key-dlg_comment_{case_id}_ok button").tap()
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    b.settle(page, 1000)
    assert _db(
        e2e_db_url, "SELECT actor_id FROM case_events WHERE case_id = ? AND action = 'comment'", case_id
    )[-1] == (worker_id,)
    _assert_clean(page)

    # ---- Record a visit
    _open(page, app_base, "visit", "记录走访")
    _assert_phone_layout(page)
    _shot(page, "phone_visit")
    visits_before = _db(e2e_db_url, "SELECT count(*) FROM grid_visits")[0][0]
    page.locator(".st-key-visit0_met button", has_text="老人").tap()
    page.locator(".st-key-visit0_groups button", has_text="空巢/独居老人").tap()
    page.locator(".st-key-visit0_note textarea").fill("老人身体状况良好，已提醒用气安全")
    page.locator("h1").first.tap()  # leave the field, as a thumb does
    _tap(page, "visit0_submit")
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    b.settle(page, 1000)
    assert _db(e2e_db_url, "SELECT count(*) FROM grid_visits")[0][0] == visits_before + 1
    row = _db(
        e2e_db_url, "SELECT worker_id, grid_id, met, groups, note FROM grid_visits ORDER BY id DESC LIMIT 1"
    )[0]
    assert row == (worker_id, grid_id, "老人", '["elderly_alone"]', "老人身体状况良好，已提醒用气安全")
    _assert_phone_layout(page)
    _assert_clean(page)

    # ---- Quick intake on a resident's behalf
    _open(page, app_base, "quick-intake", "代录事件")
    _assert_phone_layout(page)
    _shot(page, "phone_quick_intake")
    page.locator(".st-key-quick0_pick button", has_text="环境卫生").tap()
    b.settle(page, 500)
    page.locator(".st-key-quick0_description textarea").fill("5号楼东侧绿化带有大量建筑垃圾\n已堆放一周")
    page.locator(".st-key-quick0_name input").fill("周桂英")
    page.locator(".st-key-quick0_phone input").fill("13912345678")
    page.locator("h1").first.tap()
    b.settle(page, 500)
    _tap(page, "quick0_submit")
    page.wait_for_selector("[data-testid=stAlertContentSuccess], .st-key-quick_confirm", timeout=30000)
    b.settle(page, 500)
    if page.locator(".st-key-quick_confirm").count():  # a nearby open case of the same kind
        _tap(page, "quick_confirm")
        page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
        b.settle(page, 500)
    saved = page.locator("[data-testid=stAlertContentSuccess]").inner_text().split()[-1]
    row = _db(e2e_db_url, "SELECT title, source, grid_id, reporter_phone FROM cases WHERE number = ?", saved)
    assert row == [("5号楼东侧绿化带有大量建筑垃圾", "proxy", grid_id, "13912345678")]
    assert _db(
        e2e_db_url,
        "SELECT e.actor_id FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.number = ?",
        saved,
    ) == [(worker_id,)]
    _assert_phone_layout(page)
    _assert_clean(page)
    page.context.close()
