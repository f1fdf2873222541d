"""The map page in AppTest: every role, drill-down by URL and breadcrumb, scope, figure choice, English."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, select

from dashboard.db import get_engine
from dashboard.kernel.text import escape_markdown
from models import Community, Grid, User

ROLES = {
    "admin": "admin",
    "leader": "leader",
    "operator": "operator",
    "community": "community",
    "grid_worker": "grid",
    "volunteer_manager": "volunteers",
}


def _deck(at) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    charts = at.get("deck_gl_json_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.json)


def _layer(deck: dict[str, Any], layer_id: str) -> dict[str, Any] | None:
    return next((layer for layer in deck["layers"] if layer["id"] == layer_id), None)


def _codes(layer: dict[str, Any] | None) -> list[str]:
    return [] if layer is None else [f["properties"]["code"] for f in layer["data"]["features"]]


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _user(url: str, username: str) -> tuple[User, str | None, str | None]:
    with Session(get_engine(url)) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        grid = s.get(Grid, user.grid_id) if user.grid_id else None
        comm = s.get(Community, user.community_id) if user.community_id else None
        return user, grid.code if grid else None, comm.code if comm else None


@pytest.mark.parametrize("role", list(ROLES))
def test_map_renders_for_every_role(role: str, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, ROLES[role], page="pages/map.py")
    _ok(at)
    deck = _deck(at)
    assert deck["mapStyle"] == "__MAP_STYLE__"  # no basemap, nothing from the internet
    assert at.selectbox(key="map_figure").value in ("open_now", "coverage")
    assert at.query_params["figure"] == at.selectbox(key="map_figure").value
    _, grid, community = _user(seeded_ro_url, ROLES[role])
    if role == "grid_worker":
        # lands on their own grid, highlighted, the only coloured grid; its profile beside the map
        assert at.query_params["grid"] == grid
        assert _codes(_layer(deck, "grids")) == [grid]
        assert grid in _codes(_layer(deck, "highlight"))
        assert _layer(deck, "context") is not None  # the rest of the community, grey
        assert any(escape_markdown(grid) in c.value for c in at.caption)
    elif role == "community":
        assert at.query_params["community"] == community and "grid" not in at.query_params
        assert all(code.startswith(community) for code in _codes(_layer(deck, "grids")))
    else:
        assert "community" not in at.query_params
        assert _layer(deck, "communities") is not None
        # volunteer managers see no case figures, so no case circles either
        assert (_layer(deck, "case_totals") is None) == (role == "volunteer_manager")


def test_drill_down_by_url_and_breadcrumb(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        grid = s.exec(select(Grid).order_by(Grid.code).offset(12)).first()
        comm = s.get(Community, grid.community_id)
        grid_code, grid_name, comm_code = grid.code, grid.name, comm.code
    at = login(seeded_ro_url, "leader")
    at.query_params.update({"grid": grid_code, "figure": "satisfaction_rate", "period": "90d"})
    at.switch_page("pages/map.py").run()
    _ok(at)
    assert at.query_params["community"] == comm_code and at.query_params["grid"] == grid_code
    assert at.selectbox(key="map_figure").value == "satisfaction_rate"
    assert at.selectbox(key="map_period").value == "90d"
    deck = _deck(at)
    assert _codes(_layer(deck, "highlight")) == [grid_code]
    assert at.subheader[0].value.replace("\\", "") == grid_name
    assert len(at.tabs) == 3
    # up to the community, then the sub-district
    at.button(key="crumb_community").click().run()
    _ok(at)
    assert "grid" not in at.query_params and at.query_params["community"] == comm_code
    assert all(code.startswith(comm_code) for code in _codes(_layer(_deck(at), "grids")))
    at.button(key="crumb_subdistrict").click().run()
    _ok(at)
    assert "community" not in at.query_params
    assert _layer(_deck(at), "communities") is not None


def test_changing_figure_recolours_and_updates_url(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "operator", page="pages/map.py")
    before = _layer(_deck(at), "communities")["data"]["features"]
    at.selectbox(key="map_figure").set_value("pop_left_behind_children").run()
    _ok(at)
    assert at.query_params["figure"] == "pop_left_behind_children"
    after = _layer(_deck(at), "communities")["data"]["features"]
    assert [f["properties"]["fill"] for f in before] != [f["properties"]["fill"] for f in after]
    assert any("留守儿童" in h.proto.body for h in at.get("html"))  # legend names the figure
    at.segmented_control(key="map_unit").set_value("grid").run()
    _ok(at)
    assert at.query_params["unit"] == "grid"
    assert len(_codes(_layer(_deck(at), "grids"))) > 50


def test_grid_worker_cannot_open_another_grid(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    _, own, _ = _user(seeded_ro_url, "grid")
    with Session(get_engine(seeded_ro_url)) as s:
        other = s.exec(select(Grid.code).where(Grid.code != own).order_by(Grid.code)).first()
    at = login(seeded_ro_url, "grid")
    at.query_params["grid"] = other
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert at.warning and other in at.warning[0].value.replace("\\", "")
    assert at.query_params.get("grid") != other
    assert other not in _codes(_layer(_deck(at), "grids"))


def test_unknown_codes_fall_back(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader")
    at.query_params.update({"community": "NOPE", "figure": "bogus"})
    at.switch_page("pages/map.py").run()
    assert not at.exception and at.warning
    assert "community" not in at.query_params
    assert at.selectbox(key="map_figure").value == "open_now"


def test_english(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader")
    at.session_state["lang"] = "en"
    at.switch_page("pages/map.py").run()
    _ok(at)
    assert at.title[0].value == "Grid map"
    assert at.selectbox(key="map_figure").label == "Colour by"
    tips = [f["properties"]["tip"] for f in _layer(_deck(at), "communities")["data"]["features"]]
    assert all("Open" in tip for tip in tips)
