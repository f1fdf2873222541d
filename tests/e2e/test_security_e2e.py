"""Security in a real browser (Chromium): hostile case text renders as plain text, sessions survive a reload
only within the idle limit, and showing personal data or exporting writes the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from dashboard import clock
from dashboard.db import dispose_engines, get_engine
from models import AuditLog, Case, User, UserSession
from models.enums import CaseSource, CaseStatus
from tests.e2e import browser as b

XSS_TITLE = "<img src=x onerror=alert(1)>"
MD_TITLE = "**bold** [link](javascript:alert(1))"
XSS_TEXT = '<script>alert("d")</script><svg onload=alert(2)> =HYPERLINK("http://evil.example","x")'


def _hostile_cases(url: str) -> dict[str, str]:
    """Two open, overdue cases in the grid of the `grid` account, titled with HTML and Markdown payloads."""
    now = clock.now()
    with Session(get_engine(url)) as s:
        worker = s.exec(select(User).where(User.username == "grid")).one()
        template = s.exec(select(Case).where(Case.grid_id == worker.grid_id).order_by(Case.id)).first()
        assert template is not None
        numbers = {}
        for i, title in enumerate((XSS_TITLE, MD_TITLE)):
            reported = now - timedelta(days=20, minutes=i)
            case = Case(
                number=f"XL{reported:%Y%m%d}-9{i:03d}",
                category_id=template.category_id,
                title=title,
                description=XSS_TEXT,
                grid_id=template.grid_id,
                community_id=template.community_id,
                address="<b>幸福小区</b>3号楼2单元301",
                source=CaseSource.proxy,
                status=CaseStatus.reported,
                reporter_name="<i>张小明</i>",
                reporter_phone="13812345678",
                reported_at=reported,
                due_at=reported + timedelta(days=1),
                response_due_at=reported + timedelta(hours=2),
                warn_at=reported + timedelta(hours=18),
                black_at=reported + timedelta(days=2),
            )
            s.add(case)
            numbers[title] = case.number
        s.commit()
    dispose_engines()
    return numbers


def _watch_dialogs(page) -> list[str]:  # type: ignore[no-untyped-def]
    fired: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def _assert_inert(page, dialogs: list[str]) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_timeout(500)
    assert dialogs == [], dialogs
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("svg[onload]").count() == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror], [onload]').length") == 0


def test_hostile_titles_render_as_plain_text(e2e_db_url: str, chromium) -> None:  # type: ignore[no-untyped-def]
    numbers = _hostile_cases(e2e_db_url)
    with b.running_app(e2e_db_url) as base:
        page = b.new_page(chromium, base, 1600, 1000)
        dialogs = _watch_dialogs(page)
        b.login_page(page, base, "grid")

        b.goto(page, base, "queue", "q=alert(1)")
        _assert_inert(page, dialogs)
        # The queue table (st.dataframe) draws its cells on a canvas; its accessible table holds the text.
        table = page.locator("[data-testid=stDataFrame]").first
        assert table.count() == 1
        for title in numbers:
            assert table.get_by_text(title, exact=True).count() >= 1, title
        b.shot(page, "security-queue-hostile")
        assert not b.exceptions(page)

        for title, number in numbers.items():
            b.goto(page, base, "case", f"case={number}")
            _assert_inert(page, dialogs)
            assert not b.exceptions(page)
            body = page.locator("[data-testid=stMain]").inner_text()
            assert title in body, (title, body[:500])  # the literal text is visible
            assert page.get_by_text(title, exact=False).count() >= 1
            if title == MD_TITLE:
                # Markdown was not interpreted: no bold element made of the title, no link.
                assert page.locator("strong", has_text="bold").count() == 0
                assert page.locator("a", has_text="link").count() == 0
            assert "张小明" not in body and "13812345678" not in body  # the reporter stays masked
            b.shot(page, f"security-case-{number}")
        page.context.close()


def test_reload_idle_expiry_reveal_and_export_are_audited(e2e_db_url: str, chromium) -> None:  # type: ignore[no-untyped-def]
    numbers = _hostile_cases(e2e_db_url)
    with b.running_app(e2e_db_url) as base:
        page = b.new_page(chromium, base)
        dialogs = _watch_dialogs(page)
        b.login_page(page, base, "operator")
        page.reload()
        b.settle(page, 1000)
        assert page.locator("[data-testid=stSidebar]").count() == 1, (
            "a reload within the idle time keeps the login"
        )

        # "Show" personal data on a case: visible afterwards, and audited.
        number = numbers[XSS_TITLE]
        b.goto(page, base, "case", f"case={number}")
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "13812345678" not in body and "138****5678" in body.replace("\\", "")
        page.locator(".st-key-show_pii button").click()
        b.settle(page, 1000)
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "13812345678" in body and "<i>张小明</i>" in body
        _assert_inert(page, dialogs)

        # The session goes idle past the limit (the server's clock is real: age the session row instead).
        with Session(get_engine(e2e_db_url)) as s:
            op = s.exec(select(User.id).where(User.username == "operator")).one()
            for row in s.exec(
                select(UserSession).where(UserSession.user_id == op, UserSession.revoked_at.is_(None))
            ):
                row.last_seen_at = clock.now() - timedelta(hours=3)
                s.add(row)
            s.commit()
        dispose_engines()
        page.reload()
        b.settle(page, 1000)
        assert page.locator(".st-key-login_username input").count() == 1, "an idle session does not survive"
        assert "登录已超时" in page.locator("[data-testid=stAlert]").first.inner_text()

        # An admin exports the audit log from its page: the download itself is audited.
        b.login_page(page, base, "admin")
        b.goto(page, base, "audit")
        assert not b.exceptions(page)
        with page.expect_download() as info:
            page.locator(".st-key-audit_export button").click()
        download = info.value
        with open(download.path(), "rb") as fh:
            text = fh.read().decode("utf-8-sig")
        assert "查看个人信息" in text and number in text  # the reveal above is in the exported trail
        page.wait_for_timeout(500)
        assert not b.exceptions(page)
        page.context.close()

    with Session(get_engine(e2e_db_url)) as s:
        rows = s.exec(select(AuditLog).order_by(AuditLog.id)).all()
        views = [r for r in rows if r.action == "view_pii"]
        assert [(r.actor_name, r.target, r.outcome) for r in views] == [("operator", number, "ok")]
        exports = [r for r in rows if r.action == "export"]
        assert [(r.actor_name, r.target) for r in exports] == [("admin", "audit_log")]
    dispose_engines()


@pytest.mark.parametrize("username", ["grid"])
def test_other_grids_case_by_url_in_the_browser(e2e_db_url: str, chromium, username: str) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(e2e_db_url)) as s:
        me = s.exec(select(User).where(User.username == username)).one()
        other = s.exec(select(Case).where(Case.grid_id != me.grid_id, Case.assignee_id != me.id)).first()
        assert other is not None
    dispose_engines()
    with b.running_app(e2e_db_url) as base:
        page = b.new_page(chromium, base)
        b.login_page(page, base, username)
        b.goto(page, base, "case", f"case={other.number}")
        body = page.locator("[data-testid=stMain]").inner_text()
        assert other.title not in body
        assert not b.exceptions(page)
        page.context.close()


def _session_cookie(page):  # type: ignore[no-untyped-def]
    from dashboard.admin.auth import COOKIE_NAME

    return next((c for c in page.context.cookies() if c["name"] == COOKIE_NAME), None)


def test_the_session_cookie_is_set_by_the_server_httponly_and_ends_with_the_browser(
    chromium, app_base
) -> None:  # type: ignore[no-untyped-def]
    """No script can read the cookie, it is not sent cross-site, and without "remember me" it is a
    session cookie (a shared office PC forgets it when the browser closes)."""
    page = b.new_page(chromium, app_base)
    b.login_page(page, app_base, "operator")
    page.wait_for_function("() => true")
    for _ in range(20):
        cookie = _session_cookie(page)
        if cookie:
            break
        page.wait_for_timeout(250)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["expires"] == -1  # a session cookie
    assert "gg_session" not in page.evaluate("() => document.cookie")
    page.reload()
    b.settle(page, 1000)
    assert page.locator("[data-testid=stSidebar]").count() == 1  # still logged in after a reload
    page.locator(".st-key-logout button").click()
    page.wait_for_selector(".st-key-login_username input", timeout=60000)
    page.wait_for_timeout(1000)
    assert _session_cookie(page) is None


def test_remember_me_keeps_the_cookie_for_the_idle_time(chromium, app_base) -> None:  # type: ignore[no-untyped-def]
    import time

    page = b.new_page(chromium, app_base)
    page.goto(app_base)
    b.settle(page)
    page.locator(".st-key-login_username input").fill("operator")
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_remember label").click()
    page.locator(".st-key-login_submit button").click()
    page.wait_for_selector("[data-testid=stSidebar]", state="attached", timeout=60000)
    b.settle(page, 1500)
    cookie = _session_cookie(page)
    assert cookie is not None and cookie["httpOnly"] is True
    assert 60 * 60 < cookie["expires"] - time.time() <= 120 * 60 + 60  # the idle limit, 120 minutes
