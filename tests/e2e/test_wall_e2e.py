"""The wall screen in Chromium on a display link: it fills a 1920×1080 and a 3840×2160 screen with nothing
cut off (screenshots to docs/screenshots/), refreshes itself without errors, comes back after a reload
without a password, and stops when its link is revoked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select
from sqlmodel import Session

from dashboard.admin.auth import actor_of
from dashboard.db import dispose_engines, get_engine
from dashboard.reporting import display_links as display
from models import DisplayLink, Setting, User
from tests.e2e import browser as b

pytestmark = pytest.mark.e2e

REFRESH_SECONDS = 2


@pytest.fixture
def wall_app(e2e_db_url: str) -> Iterator[tuple[str, str, str]]:
    """(base URL, display token, database URL) of the app with a 2-second wall refresh."""
    with Session(get_engine(e2e_db_url)) as s:
        s.exec(delete(Setting).where(Setting.key == "wall_refresh_seconds"))  # type: ignore[call-overload]
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).scalar_one())  # type: ignore[call-overload]
        token = display.create_link(s, admin, "e2e 大屏")
        s.commit()
    dispose_engines()
    with b.running_app(e2e_db_url, env={"DASHBOARD_WALL_REFRESH_SECONDS": str(REFRESH_SECONDS)}) as base:
        yield base, token, e2e_db_url


def _open_wall(chromium, base: str, token: str, width: int, height: int):  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, base, width, height)
    page.goto(f"{base}/?display={token}")
    page.wait_for_selector(".wall-tiles", timeout=120000)
    page.wait_for_selector(".st-key-wall_map .main-svg .annotation", timeout=120000)
    b.settle(page, 2500)
    return page


FIT = """() => {
  const se = document.scrollingElement, main = document.querySelector('[data-testid=stMain]');
  const ticker = document.querySelector('.wall-ticker').getBoundingClientRect();
  const legend = document.querySelector('.map-legend').getBoundingClientRect();
  const canvas = document.querySelector('.st-key-wall_map .main-svg').getBoundingClientRect();
  const panel = document.querySelector('.st-key-wall_map').getBoundingClientRect();
  const texts = [...document.querySelectorAll('.st-key-wall *')].filter(e => {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return own && r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none';
  });
  const small = texts.map(e => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height > 0 &&
    parseFloat(getComputedStyle(e).fontSize) * (e.closest('[data-testid=stPlotlyChart]') &&
    innerWidth >= 2600 ? 2 : 1)]).filter(([, px]) => px < (innerWidth >= 2600 ? 48 : 24));
  const sidebar = document.querySelector('[data-testid=stSidebar]');
  const header = document.querySelector('[data-testid=stHeader]');
  return {
    scrollHeight: se.scrollHeight, scrollWidth: se.scrollWidth, innerHeight, innerWidth,
    mainScroll: main.scrollHeight, mainClient: main.clientHeight,
    tickerBottom: ticker.bottom, tickerRight: ticker.right, legendBottom: legend.bottom,
    canvasHeight: canvas.height, canvasWidth: canvas.width, panelHeight: panel.height, panelWidth: panel.width,
    small,
    names: [...document.querySelectorAll('.st-key-wall_map .annotation-text')].map(e => e.textContent),
    tileFont: Math.min(...[...document.querySelectorAll('.wall-num')].map(e => parseFloat(getComputedStyle(e).fontSize))),
    tiles: document.querySelectorAll('.wall-tile').length,
    sidebarShown: !!sidebar && sidebar.getBoundingClientRect().width > 0 && getComputedStyle(sidebar).display !== 'none',
    headerShown: !!header && getComputedStyle(header).display !== 'none',
    background: getComputedStyle(document.querySelector('.stApp')).backgroundColor,
  };
}"""


def test_wall_fits_1080p_and_4k(chromium, wall_app) -> None:  # type: ignore[no-untyped-def]
    base, token, _ = wall_app
    fonts = {}
    for width, height, name in ((1920, 1080, "wall_1080p"), (3840, 2160, "wall_4k")):
        page = _open_wall(chromium, base, token, width, height)
        m = page.evaluate(FIT)
        assert m["scrollHeight"] <= m["innerHeight"] + 2, m
        assert m["scrollWidth"] <= m["innerWidth"], m
        assert m["mainScroll"] <= m["mainClient"] + 2, m  # Streamlit's own scroll container does not scroll
        assert m["tickerBottom"] <= height and m["tickerRight"] <= width, m  # the last row is on screen
        assert m["legendBottom"] <= height, m
        assert m["canvasHeight"] > height * 0.4 and m["canvasWidth"] > width * 0.3, m  # the map scales too
        # and fills its panel (its title and legend take the rest of the height), which is as wide as the
        # map needs (the alerts take the rest of the row)
        assert m["canvasHeight"] > m["panelHeight"] * 0.7 and m["canvasWidth"] > m["panelWidth"] * 0.9, m
        assert not m["small"], m["small"]  # every text ≥ 24 px at 1080p, ≥ 48 px at 4K
        # the communities are named on the map (a refresh drawing the next figure may show a name twice)
        assert len(set(m["names"])) == 11, m["names"]
        assert m["tiles"] == 6
        assert not m["sidebarShown"] and not m["headerShown"], m
        assert m["background"] == "rgb(7, 13, 24)", m  # dark, whatever the app theme
        fonts[name] = m["tileFont"]
        b.shot(page, name, full_page=False, docs=True)
        b.assert_clean(page)
        page.context.close()
    assert fonts["wall_1080p"] >= 64
    assert fonts["wall_4k"] >= 2 * fonts["wall_1080p"] - 1  # proportionally larger


def test_wall_refreshes_itself_and_survives_a_reload(chromium, wall_app) -> None:  # type: ignore[no-untyped-def]
    base, token, _ = wall_app
    page = _open_wall(chromium, base, token, 1920, 1080)
    seen: list[str] = []
    for _ in range(60):  # the header carries the time of the figures shown; each refresh changes it
        stamp = page.locator(".wall-head").first.get_attribute("data-updated")
        if stamp and stamp not in seen:
            seen.append(stamp)
        assert not b.exceptions(page)
        if len(seen) >= 6:
            break
        page.wait_for_timeout(1000)
    assert len(seen) >= 6, seen  # the first view and at least five automatic refreshes
    assert page.locator(".st-key-wall_map .main-svg .annotation").count() == 11
    assert page.locator(".wall-tile").count() == 6
    b.assert_clean(page)
    page.reload()  # a browser reload (or a server restart) brings the wall back with no password
    page.wait_for_selector(".wall-tiles", timeout=120000)
    assert page.locator(".st-key-login_username").count() == 0
    b.assert_clean(page)
    page.context.close()


def test_revoked_link_stops_the_wall(chromium, wall_app) -> None:  # type: ignore[no-untyped-def]
    base, token, url = wall_app
    page = _open_wall(chromium, base, token, 1920, 1080)
    with Session(get_engine(url)) as s:
        link_id = s.exec(select(DisplayLink.id).where(DisplayLink.name == "e2e 大屏")).scalar_one()  # type: ignore[call-overload]
        display.revoke_link(
            s,
            actor_of(s.exec(select(User).where(User.username == "admin")).scalar_one()),  # type: ignore[call-overload]
            link_id,
        )
        s.commit()
    page.wait_for_selector("text=大屏链接无效", timeout=30000)
    assert page.locator(".wall-tiles").count() == 0
    page.context.close()


def test_a_logged_in_wall_stops_when_the_account_is_disabled(chromium, wall_app) -> None:  # type: ignore[no-untyped-def]
    """The wall's parts refresh as fragments, which do not pass through app.py's login check: each one
    re-validates the session, so a disabled account's open wall shows the login form within a refresh."""
    from dashboard.admin import users

    base, _, db_url = wall_app
    page = b.new_page(chromium, base)
    b.login_page(page, base, "operator")
    b.goto(page, base, "wall")
    page.wait_for_selector(".wall-tiles", timeout=120000)
    with Session(get_engine(db_url)) as s:
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).scalar_one())  # type: ignore[call-overload]
        operator = s.exec(select(User).where(User.username == "operator")).scalar_one()  # type: ignore[call-overload]
        users.set_active(s, admin, operator.id, False)  # revokes the account's sessions
        s.commit()
    dispose_engines()
    page.wait_for_selector("[data-testid=stForm]", timeout=REFRESH_SECONDS * 1000 * 5 + 30000)
    assert page.locator(".wall-tiles").count() == 0
