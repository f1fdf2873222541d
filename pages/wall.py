"""Command-centre wall screen: live tiles, the grid map coloured by overdue cases, 12345 三率, a 7-day trend,
volunteers on duty and a ticker of what happened today. Opened by logged-in leaders/operators/admins,
or by a TV with ``/?display=TOKEN`` (app.py then shows this page only, as a read-only leader).

Each part refreshes itself with ``st.fragment(run_every=…)`` (through :func:`dashboard.ui.session.fragment`, which
first checks that the login or display link is still valid); the figures behind all parts are computed
once per refresh interval (cache keyed by the interval's number, bounded by ``max_entries`` and ``ttl``),
so a wall left on for weeks neither grows in memory nor loads the database more than once a minute.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import current_lang, t, t_plain
from dashboard.kernel.scope import Actor
from dashboard.reporting import alert_digest, kpi, wall
from dashboard.territory import areas, map_scene
from dashboard.territory.map_scales import Scale, make_scale
from dashboard.ui import wall as wall_ui
from dashboard.ui import warning_wall
from dashboard.ui.common import actor, db_session
from dashboard.ui.maps import legend_html
from dashboard.ui.session import fragment
from dashboard.ui.wall_map import map_share, map_width_px, wall_map_figure
from models.enums import Role

SIDE_SHARE = 0.4
"""The side panel's share of the wall's width (三率, trend, volunteers: drawn for it)."""
ALERTS_COLUMN_MIN = 0.16
"""The least width (a share of the wall) the alerts take as a column beside the map."""
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
def _map(me: Actor, url: str, bucket: int, lang: str) -> tuple[go.Figure, Scale]:
    """The map of grids coloured by overdue cases now, with the communities named, and its colour scale."""
    territory = _territory(me, url)
    with db_session() as s:
        counts = kpi.open_counts_by(s, me, "grid", now=clock.now()).set_index("key")
    shown = [g for g in territory.grids if g.in_scope]
    values = counts.reindex([g.id for g in shown])[["open_now", "overdue_now"]].fillna(0).astype("float64")
    scale = make_scale("overdue_now", list(values["overdue_now"]))
    feats = map_scene.features(shown, values, "overdue_now", scale, me, lang)
    width = map_width_px(map_share(territory.bounds))
    return wall_map_figure(feats, territory.communities, territory.bounds, width), scale


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _alerts(me: Actor, url: str, bucket: int, lang: str) -> alert_digest.WallAlerts:
    """The strongest open alerts of the morning run (a read of the stored table, once per interval)."""
    with db_session() as s:
        return alert_digest.wall_alerts(s, me, lang=lang)


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
st.html(warning_wall.ALERTS_CSS)


@fragment(run_every=interval)
def _top() -> None:
    snap = _snapshot(viewer, url, _bucket(interval), lang)
    st.html(wall_ui.header_html(t_plain("wall.screen_title", lang, scope=snap.scope_name), snap.at, lang))
    st.html(wall_ui.tiles_html(snap, lang))


@fragment(run_every=interval)
def _map_panel() -> None:
    fig, scale = _map(viewer, url, _bucket(interval), lang)
    with st.container(key="wall_map"):
        st.html(f'<div class="wall-panel-title">{wall_ui.e(t("wall.map_title", lang))}</div>')
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="wall_chart")
        st.html(legend_html(scale))


@fragment(run_every=interval)
def _side() -> None:
    st.html(wall_ui.side_html(_snapshot(viewer, url, _bucket(interval), lang), lang))


@fragment(run_every=interval)
def _alert_panel() -> None:
    st.html(warning_wall.alerts_html(_alerts(viewer, url, _bucket(interval), lang), lang))


@fragment(run_every=interval)
def _ticker() -> None:
    snap = _snapshot(viewer, url, _bucket(interval), lang)
    st.html(wall_ui.ticker_html(snap.ticker, lang))


with st.container(key="wall"):
    if not st.session_state.get("display"):
        with st.container(key="wall_exit"):
            st.page_link("pages/overview.py", label=t("wall.exit", lang), icon=":material/close:")
    _top()
    # The map's panel as wide as the map it draws; the side panel keeps its width; the alerts take the
    # column between them when there is room, else the row above the ticker.
    share = map_share(_territory(viewer, url).bounds)
    between = 1 - SIDE_SHARE - share
    if between >= ALERTS_COLUMN_MIN:
        left, middle, right = st.columns([share, between, SIDE_SHARE], gap="small")
        with middle, st.container(key="wall_alerts_column"):
            _alert_panel()
    else:
        left, right = st.columns([1 - SIDE_SHARE, SIDE_SHARE], gap="small")
    with left:
        _map_panel()
    with right:
        _side()
    if between < ALERTS_COLUMN_MIN:
        _alert_panel()
    _ticker()
