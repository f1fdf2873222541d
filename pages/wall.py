"""Command-centre wall screen: live tiles, the grid map coloured by overdue cases, 12345 三率, a 7-day trend,
volunteers on duty and a ticker of urgent and overdue cases. Opened by logged-in leaders/operators/admins,
or by a TV with ``/?display=TOKEN`` (app.py then shows this page only, as a read-only leader).

Each part refreshes itself with ``st.fragment(run_every=…)`` (through :func:`dashboard.ui.session.fragment`, which
first checks that the login or display link is still valid); the figures behind all parts are computed
once per refresh interval (cache keyed by the interval's number, bounded by ``max_entries`` and ``ttl``),
so a wall left on for weeks neither grows in memory nor loads the database more than once a minute.
"""

from __future__ import annotations

import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import current_lang, t, t_plain
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, wall
from dashboard.territory import areas, map_scene
from dashboard.territory.map_scales import Scale, make_scale
from dashboard.ui import wall as wall_ui
from dashboard.ui.common import actor, db_session
from dashboard.ui.maps import grid_map_deck, legend_html
from dashboard.ui.session import fragment
from models.enums import Role

MAP_FIT = (1100, 540)
"""The map's size on a 1920×1080 wall, for fitting the view (the map scales with the screen)."""
WALL_VIEWER = Actor(id=0, username="wall", display_name="wall", role=Role.leader)
"""The read-only viewer whose figures every sub-district-wide wall shows."""


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _snapshot(me: Actor, url: str, bucket: int, lang: str) -> wall.WallSnapshot:
    """The wall's figures for one refresh interval (`bucket`), shared by every part and every wall."""
    with db_session() as s:
        return wall.snapshot(s, me, clock.now(), lang=lang)


@st.cache_data(ttl=3600, max_entries=4, show_spinner=False)
def _territory(me: Actor, url: str) -> areas.Territory:
    with db_session() as s:
        return areas.load_territory(s, me)


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _map_layers(me: Actor, url: str, bucket: int, lang: str) -> tuple[dict, dict, dict, Scale]:
    """Grid polygons coloured by overdue cases now, community outlines, the view and the colour scale."""
    territory = _territory(me, url)
    with db_session() as s:
        counts = kpi.open_counts_by(s, me, "grid", now=clock.now()).set_index("key")
    shown = [g for g in territory.grids if g.in_scope]
    values = counts.reindex([g.id for g in shown])[["open_now", "overdue_now"]].fillna(0).astype("float64")
    scale = make_scale("overdue_now", list(values["overdue_now"]))
    feats = map_scene.features(shown, values, "overdue_now", scale, me, lang)
    view = map_scene.fit_view(territory.bounds, *MAP_FIT)
    return feats, map_scene.outline_features(territory.communities), view, scale


def _bucket(seconds: int) -> int:
    return int(clock.now().timestamp() // max(seconds, 1))


me = actor()
# Wall roles (admin, leader, operator, display links) all read the whole sub-district: one shared viewer
# keys the caches, so any number of screens cost one computation per interval.
viewer = WALL_VIEWER if me.reads_all else me
url = get_settings().database_url
lang = current_lang()
interval = wall.refresh_seconds(url)
wall_ui.inject_css()


@fragment(run_every=interval)
def _top() -> None:
    snap = _snapshot(viewer, url, _bucket(interval), lang)
    st.html(wall_ui.header_html(t_plain("wall.screen_title", lang, scope=snap.scope_name), snap.at, lang))
    st.html(wall_ui.tiles_html(snap, lang))


@fragment(run_every=interval)
def _map() -> None:
    feats, outlines, view, scale = _map_layers(viewer, url, _bucket(interval), lang)
    with st.container(key="wall_map"):
        st.html(f'<div class="wall-panel-title">{wall_ui.e(t("wall.map_title", lang))}</div>')
        deck = grid_map_deck(
            feats, "overdue_now", layer_id="wall_grids", view=view, outlines=outlines, dark=True
        )
        st.pydeck_chart(deck, height=560, key="wall_deck")
        st.html(legend_html(scale))


@fragment(run_every=interval)
def _side() -> None:
    st.html(wall_ui.side_html(_snapshot(viewer, url, _bucket(interval), lang), lang))


@fragment(run_every=interval)
def _ticker() -> None:
    snap = _snapshot(viewer, url, _bucket(interval), lang)
    st.html(wall_ui.ticker_html(snap.ticker, snap.at, lang))


with st.container(key="wall"):
    if not st.session_state.get("display"):
        with st.container(key="wall_exit"):
            st.page_link("pages/overview.py", label=t("wall.exit", lang), icon=":material/close:")
    _top()
    left, right = st.columns([3, 2], gap="small")
    with left:
        _map()
    with right:
        _side()
    _ticker()
