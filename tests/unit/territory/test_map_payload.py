"""What the browser receives for the map stays small whatever the number of cases.

The sub-district view sends one feature per community and grid and one aggregate per grid; community
and grid views add at most ``POINT_LIMIT`` case points (the most urgent, limited in SQL). The deck JSON is
measured on the seeded test database.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from dashboard import clock
from dashboard.db import get_engine
from dashboard.territory import areas, map_figures, map_scene, map_values
from dashboard.ui.maps import scene_deck
from models import Case, Grid
from models.enums import CaseStatus
from tests.factories import add_case, build_world

LIMIT_BYTES = 2 * 1024 * 1024


def _scene(session: Session, actor, **kwargs):  # type: ignore[no-untyped-def]
    now = clock.now()
    territory = areas.load_territory(session, actor)
    period = map_figures.period_for("30d", now)
    grids = map_values.grid_values(session, actor, period, now=now)
    comms = map_values.community_values(session, actor, period, grids, territory, now=now)
    return territory, map_scene.build_scene(
        territory, grids, comms, kwargs.pop("figure", "open_now"), actor, lang="zh", **kwargs
    )


def _leader(session: Session):  # type: ignore[no-untyped-def]
    from dashboard.admin.auth import actor_of
    from models import User

    return actor_of(session.exec(select(User).where(User.username == "leader")).scalar_one())


def test_subdistrict_deck_is_small_on_the_seeded_db(seeded_ro_url: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        leader = _leader(s)
        n_grids = s.scalar(select(func.count()).select_from(Grid))
        n_open = s.scalar(
            select(func.count()).select_from(Case).where(Case.status.not_in(["closed", "rejected"]))
        )
        sizes = {}
        for unit in ("community", "grid"):
            territory, scene = _scene(s, leader, unit=unit)
            text = scene_deck(scene).to_json()
            sizes[unit] = len(text.encode())
            deck = json.loads(text)
            assert {layer["id"] for layer in deck["layers"]} >= {"outlines", "case_totals"}
            assert "cases" not in {layer["id"] for layer in deck["layers"]}  # no points at sub-district level
            assert len(scene.aggregates) <= n_grids
        assert max(sizes.values()) < LIMIT_BYTES, sizes
        # community level with case points: still bounded by the point limit
        comm = territory.communities[0]
        points = map_values.case_points(s, leader, community_id=comm.id)
        assert len(points) <= min(map_values.POINT_LIMIT, n_open)
        _, scene = _scene(s, leader, community=comm.code, points=points)
        community_size = len(scene_deck(scene).to_json().encode())
        assert community_size < LIMIT_BYTES
        print(
            f"\nmap deck JSON: sub-district {sizes} bytes, community {comm.code} with {len(points)} points "
            f"{community_size} bytes ({n_grids} grids)"
        )


def test_payload_does_not_grow_with_cases(db_url: str) -> None:
    """Ten times more open cases: the sub-district deck keeps its size, the points keep their limit."""
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        leader = world.actors["leader"]
        now = clock.now()

        def add(n: int) -> None:
            for i in range(n):
                add_case(
                    s,
                    world,
                    i % 4,
                    now - timedelta(hours=i + 1),
                    CaseStatus.in_progress,
                    lon=118.001 + (i % 4 // 2) * 0.01,
                    lat=33.001 + (i % 2) * 0.005,
                )
            s.commit()

        add(30)
        _, small = _scene(s, leader)
        small_size = len(scene_deck(small).to_json())
        add(270)
        _, large = _scene(s, leader)
        large_size = len(scene_deck(large).to_json())
        assert abs(large_size - small_size) < 200  # only the digits of the counts change
        assert sum(a["open"] for a in large.aggregates) == 300
        assert len(map_values.case_points(s, leader, limit=50)) == 50


@pytest.mark.parametrize("figure", ["satisfaction_rate", "days_since", "pop_left_behind_children"])
def test_deck_for_other_figures(seeded_ro_url: str, figure: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        _, scene = _scene(s, _leader(s), figure=figure, unit="grid")
        deck = json.loads(scene_deck(scene).to_json())
        grids = next(layer for layer in deck["layers"] if layer["id"] == "grids")
        assert len(grids["data"]["features"]) == len(scene.areas["features"])
        # no basemap by default (never Carto's style from the internet): pydeck's "no style" marker
        assert deck["mapStyle"] == "__MAP_STYLE__" and "mapProvider" not in deck


def test_intranet_style_url_is_used_as_basemap(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.admin import settings as app_settings
    from dashboard.ui.maps import grid_map_deck

    empty = {"type": "FeatureCollection", "features": []}
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MAP_STYLE_URL", "http://tiles.intranet.local/style.json")
    app_settings.clear_cache()
    deck = json.loads(grid_map_deck(empty, "open_now").to_json())
    assert deck["mapProvider"] == "mapbox" and deck["mapStyle"] == "http://tiles.intranet.local/style.json"
    monkeypatch.setenv("MAP_STYLE_URL", "/app/static/map-style.json")
    app_settings.clear_cache()
    assert json.loads(grid_map_deck(empty, "open_now").to_json())["mapStyle"] == "__MAP_STYLE__"


def test_bundled_blank_style_is_offline() -> None:
    from tests.conftest import ROOT

    style = json.loads((ROOT / "static" / "map-style.json").read_text())
    assert style["version"] == 8 and style["sources"] == {}
    assert [layer["type"] for layer in style["layers"]] == ["background"]
    assert "glyphs" not in style and "sprite" not in style and "http" not in json.dumps(style)


def test_fixed_now_is_respected() -> None:
    with clock.frozen(datetime(2026, 6, 15, 10)):
        assert map_figures.period_for("month").start == datetime(2026, 6, 1)
