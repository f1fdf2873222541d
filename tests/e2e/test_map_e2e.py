"""The grid map in Chromium: the canvas draws polygons, clicks drill from the sub-district to a community
and a grid (the profile follows), nothing is requested from another host, and screenshots of the three
levels at 1920×1080 go to docs/screenshots/."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.db import get_engine
from dashboard.territory import areas, map_scene, map_values
from models import User
from tests.e2e import browser as b

CANVAS = "[data-testid=stDeckGlJsonChart] canvas"


def _world_px(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web-Mercator pixel coordinates at `zoom` (deck.gl's 512-pixel world)."""
    size = 512 * 2**zoom
    x = (lon + 180) / 360 * size
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2 * size
    return x, y


def _screen(page, view: dict[str, float], lon: float, lat: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.locator(CANVAS).first.bounding_box()
    cx, cy = _world_px(view["longitude"], view["latitude"], view["zoom"])
    px, py = _world_px(lon, lat, view["zoom"])
    return box["x"] + box["width"] / 2 + px - cx, box["y"] + box["height"] / 2 + py - cy


def _query(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _open_map(page) -> None:  # type: ignore[no-untyped-def]
    """Open the map from the sidebar (in-app navigation; a fresh load of /map makes Streamlit probe
    /map/_stcore/health first, two 404s that would count as console errors)."""
    page.locator("[data-testid=stSidebarNav] a[href$='/map']").click()
    _wait_for_map(page)


def _wait_for_map(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(CANVAS, timeout=120000)
    b.settle(page, 2500)


def _painted_colours(page) -> set[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Distinct colours in a coarse sample of the map's screenshot (the polygons' fills)."""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(page.locator("[data-testid=stDeckGlJsonChart]").first.screenshot())).convert(
        "RGB"
    )
    w, h = image.size
    return {
        image.getpixel((x, y)) for x in range(5, w, max(w // 40, 1)) for y in range(5, h, max(h // 30, 1))
    }


def _click(page, view: dict[str, float], point: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    x, y = _screen(page, view, *point)
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_timeout(1500)
    _wait_for_map(page)


def _clear_of_points(area: areas.Area, points: list[dict], min_deg: float) -> bool:
    lon, lat = area.label
    return all(math.hypot(p["position"][0] - lon, p["position"][1] - lat) > min_deg for p in points)


def test_map_drills_down_offline(app_base: str, chromium, e2e_db_url: str) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(e2e_db_url)) as s:
        leader = actor_of(s.exec(select(User).where(User.username == "leader")).one())
        territory = areas.load_territory(s, leader)
        community = max(territory.communities, key=lambda c: len(territory.grids_of(c.code)))
        points = map_values.case_points(s, leader, community_id=community.id, now=clock.now())
    grids = territory.grids_of(community.code)
    # a grid whose label point is not covered by a case point (a click there must hit the polygon)
    grid = next(g for g in grids if _clear_of_points(g, points, 0.0006))
    top_view = map_scene.fit_view(territory.bounds)
    community_view = map_scene.fit_view(community.bounds)

    page = b.new_page(chromium, app_base, 1920, 1080)
    b.login_page(page, app_base, "leader")
    _open_map(page)
    assert len(_painted_colours(page)) >= 5, "the map canvas draws coloured polygons"
    assert page.get_by_text(territory.subdistricts[0].name).count() >= 1
    b.shot(page, "map_subdistrict", full_page=False, docs=True)

    # sub-district → community: click inside the community
    _click(page, top_view, community.label)
    assert _query(page).get("community") == community.code
    assert page.locator("[data-testid=stHeading]").filter(has_text=community.name).count() >= 1
    b.shot(page, "map_community", full_page=False, docs=True)

    # community → grid: the profile beside the map changes to the grid's
    _click(page, community_view, grid.label)
    query = _query(page)
    assert query.get("grid") == grid.code and query.get("community") == community.code
    assert page.locator("[data-testid=stHeading]").filter(has_text=grid.name).count() >= 1
    assert page.get_by_text(grid.code).count() >= 1
    assert page.locator("[data-testid=stTab]").count() == 3
    b.shot(page, "map_grid", full_page=False, docs=True)

    # the breadcrumb leads back up
    page.locator(".st-key-crumb_subdistrict button").click()
    b.settle(page, 1500)
    assert "community" not in _query(page)
    b.assert_clean(page)
    page.context.close()


def test_grid_worker_map_on_a_phone(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base, 390, 844)
    page.goto(app_base)
    b.settle(page)
    page.locator(".st-key-login_username input").fill("grid")
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_submit button").click()
    page.wait_for_selector("[data-testid=stExpandSidebarButton]", timeout=60000)
    b.settle(page, 1000)
    page.locator("[data-testid=stExpandSidebarButton]").click()
    _open_map(page)
    assert _query(page).get("grid", "").startswith("XL-")
    assert len(_painted_colours(page)) >= 2
    b.assert_clean(page)
    b.shot(page, "map_grid_worker_phone")
    page.context.close()
