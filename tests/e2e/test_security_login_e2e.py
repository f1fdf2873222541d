"""Login throttling in a real browser: six browser sessions guessing one account's password at once, twice
(twelve guesses), get exactly the limit's worth of guesses checked (they used to get all of them)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func
from sqlmodel import Session, select

from dashboard.admin import throttle
from dashboard.db import dispose_engines, get_engine
from models import AuditLog, LoginAttempt
from tests.e2e import browser as b

SESSIONS = 6


def _submit(page, password: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(".st-key-login_password input").fill(password)
    page.locator(".st-key-login_submit button").click(no_wait_after=True)


def test_parallel_browser_sessions_get_the_limit_and_no_more(e2e_db_url: str, chromium) -> None:  # type: ignore[no-untyped-def]
    # The copied database may hold other tests' logins: count from here, with no delays running.
    with Session(get_engine(e2e_db_url)) as s:
        s.execute(delete(LoginAttempt))
        s.commit()
        start = s.exec(select(func.max(AuditLog.id))).one() or 0
    dispose_engines()
    with b.running_app(e2e_db_url) as base:
        pages = [b.new_page(chromium, base, 1200, 900) for _ in range(SESSIONS)]
        for page in pages:
            page.goto(base)
            b.settle(page)
            page.locator(".st-key-login_username input").fill("operator")
        for _ in range(2):  # two rounds of guesses, each round sent at once
            for page in pages:
                _submit(page, "wrong-password1")
            for page in pages:
                b.settle(page, 200)
        _submit(pages[0], "demo1234")  # the right password, after the limit: refused the same way
        b.settle(pages[0], 500)
        errors = [p.locator("[data-testid=stAlertContentError]").first.inner_text() for p in pages]
        assert set(errors) == {"用户名或密码错误，或尝试次数过多，请稍后再试。"}
        assert pages[0].locator("[data-testid=stSidebar]").count() == 0
        for page in pages:
            assert not b.exceptions(page)
            page.context.close()
    dispose_engines()
    with Session(get_engine(e2e_db_url)) as s:
        outcomes = s.exec(
            select(AuditLog.outcome).where(
                AuditLog.action == "login", AuditLog.target == "operator", AuditLog.id > start
            )
        ).all()
    dispose_engines()
    assert Counter(outcomes) == {
        "failed": throttle.FREE_FAILURES,
        "throttled": 2 * SESSIONS + 1 - throttle.FREE_FAILURES,
    }
