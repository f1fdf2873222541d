"""Two replicas on one PostgreSQL behind nginx, configured by the README's own file (deploy/nginx.conf), in
Chromium: a login through nginx; a case changed on one replica is shown changed on the other; two users on
the two replicas acting on one case, the second gets the optimistic-lock message; the replica serving a
logged-in browser and a wall is killed, both reconnect through nginx to the other one, the user still
logged in and the wall still refreshing.

nginx with ``ip_hash`` sends every browser of this machine (one address) to the same replica, so the second
user opens the other replica directly; which replica nginx chose is read from nginx's access log.
Without nginx installed the test is skipped, except under CI (``CI`` set), where it is an error.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from dashboard.admin.auth import actor_of
from dashboard.db import dispose_engines, get_engine
from dashboard.reporting import display_links as display
from models import User
from tests import pg
from tests.e2e import browser as b
from tests.e2e.proxy import Proxy, nginx_binary, port_of, start_nginx

REFRESH_SECONDS = 2
STALE = "修改，请刷新后再操作"
"""The end of the optimistic-lock message (zh ``cases.stale``)."""


@dataclass
class Replicas:
    proxy: Proxy
    bases: list[str]
    pids: list[int]
    url: str
    token: str

    def other(self, port: int) -> str:
        return next(b for b in self.bases if port_of(b) != port)


@pytest.fixture
def replicas(pg_server: pg.PgServer, seed_templates, tmp_path: Path) -> Iterator[Replicas]:  # type: ignore[no-untyped-def]
    """A private copy of the seeded PostgreSQL database, two replicas on it and nginx in front."""
    binary = nginx_binary()
    template = seed_templates.get("postgresql").rsplit("/", 1)[1]
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = pg_server.url(name)
    with Session(get_engine(url)) as s:
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).scalar_one())  # type: ignore[call-overload]
        token = display.create_link(s, admin, "e2e 副本大屏")
        s.exec(text("DELETE FROM settings WHERE key = 'wall_refresh_seconds'"))  # type: ignore[call-overload]
        s.commit()
    dispose_engines()
    env = {"DASHBOARD_WALL_REFRESH_SECONDS": str(REFRESH_SECONDS), "DASHBOARD_TRUSTED_PROXY": "1"}
    try:
        with ExitStack() as stack:
            started = [stack.enter_context(b.app_process(url, env)) for _ in range(2)]
            bases, pids = [s[0] for s in started], [s[1] for s in started]
            proxy = stack.enter_context(start_nginx(binary, tmp_path / "nginx", [port_of(x) for x in bases]))
            yield Replicas(proxy, bases, pids, url, token)
    finally:
        dispose_engines()
        pg_server.drop_database(name)


def _case(url: str, status: str) -> tuple[int, str]:
    with get_engine(url).connect() as conn:
        row = conn.execute(
            text("SELECT id, number FROM cases WHERE status = :s ORDER BY id DESC LIMIT 1"), {"s": status}
        ).one()
    return int(row[0]), str(row[1])


def _status(url: str, case_id: int) -> str:
    with get_engine(url).connect() as conn:
        return str(conn.execute(text("SELECT status FROM cases WHERE id = :i"), {"i": case_id}).scalar_one())


def _open_case(page, base: str, number: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/case?case={number}")
    page.wait_for_selector(".st-key-case_no", timeout=60000)
    b.settle(page, 500)


def _act(page, action: str, case_id: int) -> None:  # type: ignore[no-untyped-def]
    page.locator(f".st-key-act_{action} button").click()
    page.locator("[role=dialog]").wait_for(timeout=30000)
    b.settle(page, 300)
    page.locator(f".st-key-dlg_{action}_{case_id}_ok button").click()
    b.settle(page, 500)


def _wall_stamps(page, wanted: int, timeout: float) -> list[str]:  # type: ignore[no-untyped-def]
    """The wall's refresh stamps seen until `wanted` different ones were seen (or `timeout` seconds)."""
    seen: list[str] = []
    deadline = time.time() + timeout
    while len(seen) < wanted and time.time() < deadline:
        stamp = page.locator(".wall-head").first.get_attribute("data-updated", timeout=30000)
        if stamp and stamp not in seen:
            seen.append(stamp)
        page.wait_for_timeout(500)
    return seen


def test_two_replicas_behind_nginx(chromium, replicas: Replicas) -> None:  # type: ignore[no-untyped-def]
    proxy = replicas.proxy
    # -------------------------------------------------------- login through nginx
    page = b.new_page(chromium, proxy.base, 1440, 900)
    b.login_page(page, proxy.base, "operator")
    b.assert_clean(page)
    serving = proxy.upstream_of("/_app/session")  # the ticket is redeemed by the replica of the WebSocket
    direct = replicas.other(serving)

    # -------------------------------------------------------- a change on the other replica shows here
    case_id, number = _case(replicas.url, "reported")
    other = b.new_page(chromium, direct, 1440, 900)
    b.login_page(other, direct, "admin")
    _open_case(other, direct, number)
    _act(other, "accept", case_id)
    other.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    assert _status(replicas.url, case_id) == "accepted"
    _open_case(page, proxy.base, number)
    assert page.locator(".st-key-act_dispatch").count() == 1  # accepted: dispatch is the next step here

    # -------------------------------------------------------- two users, two replicas, one case: the lock
    page.locator(".st-key-act_dispatch button").click()
    other.locator(".st-key-act_dispatch button").click()
    for p in (page, other):
        p.locator("[role=dialog]").wait_for(timeout=30000)
        b.settle(p, 300)
    other.locator(f".st-key-dlg_dispatch_{case_id}_ok button").click()
    other.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    page.locator(f".st-key-dlg_dispatch_{case_id}_ok button").click()
    page.locator("[role=dialog]").filter(has_text=STALE).wait_for(timeout=30000)
    assert _status(replicas.url, case_id) == "dispatched"
    page.keyboard.press("Escape")  # close the dialog
    other.context.close()

    # -------------------------------------------------------- failover: kill the serving replica
    wall = b.new_page(chromium, proxy.base)
    wall.goto(f"{proxy.base}/?display={replicas.token}")
    wall.wait_for_selector(".wall-tiles", timeout=120000)
    assert proxy.upstream_of("/_stcore/host-config") == serving
    assert len(_wall_stamps(wall, 2, 30)) >= 2
    os.kill(replicas.pids[[port_of(x) for x in replicas.bases].index(serving)], signal.SIGKILL)
    before = set(_wall_stamps(wall, 1, 5))
    after = [s for s in _wall_stamps(wall, len(before) + 2, 60) if s not in before]
    assert len(after) >= 2, after  # refreshed again, now from the other replica
    assert not b.exceptions(wall)
    assert proxy.upstream_of("/_stcore/health") == port_of(direct)  # the reconnect went to the replica left
    # a click in the navigation needs the server: the replica left serves it, the user still logged in
    page.locator('[data-testid=stSidebarNavLink][href$="/queue"]').click()
    page.wait_for_selector(".st-key-qf_q", timeout=60000)
    assert page.locator(".st-key-login_username").count() == 0
    b.assert_clean(page)
    wall.context.close()
    page.context.close()
