"""Grid map: communities and grids coloured by a figure, drill-down by click, case layer, the grid panel.

The view lives in the URL (``?community=XL-03&grid=XL-03-07&figure=overdue_now&period=30d``) so it can
be shared. Boundaries come from the database; figures from kpi.py and volunteers via territory/map_values.py.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin.settings import cached_setting
from dashboard.config import get_settings
from dashboard.i18n import current_lang, label, t, t_plain
from dashboard.kernel.formatting import pct
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.territory import areas, grid_panel, map_figures, map_scene, map_values
from dashboard.ui import warning_map
from dashboard.ui.common import actor, db_session, page_link, page_title, plain
from dashboard.ui.maps import legend, scene_deck
from dashboard.ui.volunteers import skill_label
from models.enums import Role

MAP_HEIGHT = 600


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _territory(me: Actor, url: str) -> areas.Territory:
    with db_session() as s:
        return areas.load_territory(s, me)


@st.cache_data(ttl=60, max_entries=128, show_spinner=False)
def _values(
    me: Actor, url: str, period: str, minute: str, blind_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    now = clock.now()
    territory = _territory(me, url)
    with db_session() as s:
        cells = map_values.coverage_cells(s, me, now)  # shared by both levels
        grids = map_values.grid_values(
            s, me, map_figures.period_for(period, now), blind_days=blind_days, now=now, cells=cells
        )
        communities = map_values.community_values(
            s, me, map_figures.period_for(period, now), grids, territory, now=now, cells=cells
        )
    return grids, communities


@st.cache_data(ttl=60, max_entries=128, show_spinner=False)
def _points(
    me: Actor, url: str, community_id: int, grid_id: int | None, minute: str, lang: str
) -> list[dict]:
    with db_session() as s:
        return map_values.case_points(s, me, community_id=community_id, grid_id=grid_id, lang=lang)


@st.cache_data(ttl=60, max_entries=128, show_spinner=False)
def _panel(
    me: Actor, url: str, grid: str, period: str, minute: str, blind_days: int, lang: str
) -> grid_panel.GridPanel | None:
    now = clock.now()
    grids, _ = _values(me, url, period, minute, blind_days)
    with db_session() as s:
        return grid_panel.grid_panel(
            s, me, _territory(me, url), grid, map_figures.period_for(period, now), grids, now=now, lang=lang
        )


def _go(community: str | None, grid: str | None) -> None:
    """Move the view (URL and a fresh map widget, so the old click does not linger)."""
    for name, value in (("community", community), ("grid", grid)):
        if value:
            st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]
    st.session_state["map_nonce"] = st.session_state.get("map_nonce", 0) + 1


def _selection_target(event: Any) -> tuple[str | None, str | None] | None:
    """(community, grid) the user clicked on the map, or None when nothing navigable was clicked."""
    objects = (event or {}).get("selection", {}).get("objects", {}) if event else {}
    for layer, items in objects.items():
        if not items:
            continue
        props = (items[0] or {}).get("properties") or {}
        if layer == "communities" and props.get("code"):
            return props["code"], None
        if layer == "grids" and props.get("code"):
            return props.get("parent"), props["code"]
    return None


def _table(df: pd.DataFrame, **kwargs: Any) -> None:
    st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def _ranking_panel(scene: map_scene.MapScene, title_key: str) -> None:
    rank = map_scene.ranking(scene.areas, scene.figure)
    st.markdown(f"**{t(title_key, figure=map_figures.figure_label(scene.figure))}**")
    if rank.empty:
        st.info(t("app.nothing"))
    else:
        _table(
            pd.DataFrame(
                {
                    t("map.profile.area"): rank["name"],
                    t("map.profile.code"): rank["code"],
                    map_figures.figure_label(scene.figure): rank["text"],
                }
            )
        )
    st.caption(t(f"map.hint.{scene.level}"))


def _summary(values: pd.Series | None) -> None:
    if values is None:
        return
    c1, c2 = st.columns(2)
    if may(me, "case.browse"):
        c1.metric(t("map.fig.open_now"), f"{int(values.get('open_now') or 0):,}", border=True)
        c2.metric(t("map.fig.overdue_now"), f"{int(values.get('overdue_now') or 0):,}", border=True)
    c1.metric(label("population", "households"), f"{int(values.get('pop_households') or 0):,}", border=True)
    c2.metric(label("population", "residents"), f"{int(values.get('pop_residents') or 0):,}", border=True)


def _show_grid_panel(p: grid_panel.GridPanel) -> None:
    st.subheader(plain(p.name))
    st.caption(f"{plain(p.code)} · {plain(p.community_name)}")
    st.markdown(f"{t('map.profile.worker')}：{plain(p.worker) if p.worker else t('map.profile.no_worker')}")
    v = p.values
    c1, c2 = st.columns(2)
    if may(me, "case.browse"):
        c1.metric(t("map.fig.open_now"), f"{int(v.get('open_now') or 0):,}", border=True)
        c2.metric(t("map.fig.overdue_now"), f"{int(v.get('overdue_now') or 0):,}", border=True)
    c1.metric(label("population", "households"), f"{p.population.get('households', 0):,}", border=True)
    c2.metric(label("population", "residents"), f"{p.population.get('residents', 0):,}", border=True)
    last = f"{p.last_visit_at:%Y-%m-%d}" if p.last_visit_at else t("map.profile.never")
    st.markdown(
        t(
            "map.profile.last_visit",
            at=last,
            n=p.visits_30d,
            days=map_figures.format_value("days_since", v.get("days_since")),
        )
    )
    tabs = st.tabs([t("map.profile.tab_cases"), t("map.profile.tab_people"), t("map.profile.tab_volunteers")])
    with tabs[0]:
        if not may(me, "case.browse"):
            st.info(t("map.profile.no_case_access"))
        else:
            st.markdown(f"**{t('map.profile.compare')}**")
            cmp = p.comparison
            _table(
                pd.DataFrame(
                    {
                        t("map.profile.level"): [t(f"map.level.{lv}") for lv in cmp["level"]],
                        t("map.profile.area"): cmp["name"],
                        t("map.fig.on_time_rate"): [
                            pct(None if pd.isna(x) else x) for x in cmp["on_time_rate"]
                        ],
                        t("map.fig.satisfaction_rate"): [
                            pct(None if pd.isna(x) else x) for x in cmp["satisfaction_rate"]
                        ],
                    }
                )
            )
            st.caption(t("map.profile.target", period=t(f"map.periods.{period}")))
            st.markdown(f"**{t('map.profile.open_by_category')}**")
            if p.open_by_category.empty:
                st.info(t("map.profile.no_open"))
            else:
                oc = p.open_by_category
                _table(
                    pd.DataFrame(
                        {
                            t("map.profile.category"): oc["name"],
                            t("map.fig.open_now"): oc["open_now"],
                            **{label("ageing", a): oc[a] for a in ("green", "yellow", "red", "black")},
                        }
                    )
                )
            page_link("pages/queue.py", t("map.profile.queue_link"), ":material/list_alt:", {"grid": p.code})
    with tabs[1]:
        groups = [k for k in p.population if k not in ("households", "residents")]
        _table(
            pd.DataFrame(
                {
                    t("map.profile.group"): [map_figures.figure_label(f"pop_{k}") for k in groups],
                    t("map.profile.count"): [p.population[k] for k in groups],
                }
            )
        )
    with tabs[2]:
        st.metric(t("map.fig.coverage"), map_figures.format_value("coverage", v.get("coverage")), border=True)
        if p.volunteers.empty:
            st.info(t("map.profile.no_need"))
        else:
            vol = p.volunteers
            _table(
                pd.DataFrame(
                    {
                        t("map.profile.skill"): [skill_label(s) for s in vol["skill"]],
                        t("map.profile.need"): vol["need"],
                        t("map.profile.supply"): vol["supply"],
                        t("map.profile.gap"): vol["gap"],
                    }
                )
            )
        page_link(
            "pages/volunteers.py",
            t("map.profile.volunteer_link"),
            ":material/volunteer_activism:",
            {"grid": p.code},
        )


# ------------------------------------------------------------------------------------------------ page

me = actor()
# What the figures depend on: read-all roles see the same data, so they share one cache entry per role.
scope = Actor(0, "", "", me.role) if me.reads_all else me
url = get_settings().database_url
blind_days = int(cached_setting("blind_spot_days", url))
lang = current_lang()
page_title("map.title")
territory = _territory(scope, url)
allowed = map_figures.figures_for(me)
qp = st.query_params
if may(me, "case.browse"):  # the 热点研判 layer (hot and cold spots of a category), or the figures below
    if "map_layer" not in st.session_state:
        st.session_state["map_layer"] = "hotspots" if qp.get("layer") == "hotspots" else "figures"
    layer = st.segmented_control(
        t("warning.map.layer"),
        warning_map.LAYERS,
        key="map_layer",
        required=True,
        format_func=lambda v: t(f"warning.map.layer_{v}"),
        help=t("warning.map.layer_help"),
    )
    if layer == "hotspots":
        qp["layer"] = "hotspots"
        warning_map.hotspot_view(territory, url, lang, MAP_HEIGHT)
        st.stop()
    qp.pop("layer", None)
first = "map_figure" not in st.session_state
if first:
    wanted = qp.get("figure")
    st.session_state["map_figure"] = (
        wanted
        if wanted in allowed
        else (map_figures.DEFAULT_FIGURE if map_figures.DEFAULT_FIGURE in allowed else "coverage")
    )
    wanted = qp.get("period")
    st.session_state["map_period"] = wanted if wanted in map_figures.PERIODS else map_figures.DEFAULT_PERIOD
    st.session_state["map_unit"] = "grid" if qp.get("unit") == "grid" else "community"
    if not qp.get("community") and not qp.get("grid"):
        own = territory.grid(next((g.code for g in territory.grids if g.id == me.grid_id), None))
        if me.role == Role.grid_worker and own is not None:
            _go(own.parent, own.code)
        elif me.role == Role.community:
            home = next((c for c in territory.communities if c.id == me.community_id), None)
            if home is not None:
                _go(home.code, None)

grid_area = territory.grid(qp.get("grid")) if qp.get("grid") else None
if qp.get("grid") and grid_area is None:
    st.warning(t("map.unknown_area", code=qp.get("grid")))
    _go(qp.get("community"), None)
elif grid_area is not None and not grid_area.in_scope:
    st.warning(t("map.not_in_scope", code=grid_area.code))
    _go(grid_area.parent, None)
    grid_area = None
community_area = territory.community(grid_area.parent if grid_area else qp.get("community"))
if qp.get("community") and community_area is None:
    st.warning(t("map.unknown_area", code=qp.get("community")))
    _go(None, None)
level = "grid" if grid_area else "community" if community_area else "subdistrict"
if (qp.get("community"), qp.get("grid")) != (
    community_area.code if community_area else None,
    grid_area.code if grid_area else None,
):
    _go(community_area.code if community_area else None, grid_area.code if grid_area else None)

c1, c2, c3 = st.columns([2, 1.3, 1.3])
figure = c1.selectbox(t("map.figure"), allowed, key="map_figure", format_func=map_figures.figure_label)
period = c2.selectbox(
    t("map.period"),
    map_figures.PERIODS,
    key="map_period",
    format_func=lambda p: t(f"map.periods.{p}"),
    help=t("map.period_help"),
)
unit = "community"
if level == "subdistrict":
    unit = (
        c3.segmented_control(
            t("map.colour_by"),
            ["community", "grid"],
            key="map_unit",
            format_func=lambda u: t(f"map.level.{u}"),
        )
        or "community"
    )
qp["figure"] = figure
qp["period"] = period
if level == "subdistrict" and unit == "grid":
    qp["unit"] = unit
elif "unit" in qp:
    del qp["unit"]

sub_name = territory.subdistricts[0].name if len(territory.subdistricts) == 1 else t("map.level.subdistrict")
with st.container(horizontal=True, vertical_alignment="center", gap="small", key="map_breadcrumb"):
    st.button(
        plain(sub_name),
        key="crumb_subdistrict",
        icon=":material/location_city:",
        type="tertiary",
        disabled=level == "subdistrict",
        on_click=_go,
        args=(None, None),
    )
    if community_area is not None:
        st.markdown("›")
        st.button(
            plain(community_area.name),
            key="crumb_community",
            icon=":material/holiday_village:",
            type="tertiary",
            disabled=level == "community",
            on_click=_go,
            args=(community_area.code, None),
        )
    if grid_area is not None:
        st.markdown("›")
        st.button(
            plain(grid_area.name),
            key="crumb_grid",
            icon=":material/pentagon:",
            type="tertiary",
            disabled=True,
        )

minute = clock.now().strftime("%Y-%m-%d %H:%M")
grid_vals, community_vals = _values(scope, url, period, minute, blind_days)
points: list[dict] = []
if community_area is not None and may(me, "case.browse"):
    points = _points(scope, url, community_area.id, grid_area.id if grid_area else None, minute, lang)
scene = map_scene.build_scene(
    territory,
    grid_vals,
    community_vals,
    figure,
    me,
    community=community_area.code if community_area else None,
    grid=grid_area.code if grid_area else None,
    unit=unit,
    points=points,
    lang=lang,
    blind_days=blind_days,
)

left, right = st.columns([2.3, 1], gap="medium")
with left:
    event = st.pydeck_chart(
        scene_deck(scene, dark=st.context.theme.type == "dark"),
        on_select="rerun",
        selection_mode="single-object",
        key=f"map_{st.session_state.get('map_nonce', 0)}",
        height=MAP_HEIGHT,
        alt=t("map.alt", figure=map_figures.figure_label(figure)),
    )
    in_view = [
        g.id
        for g in territory.grids
        if community_area and g.parent == community_area.code and grid_area in (None, g)
    ]
    open_total = int(grid_vals.loc[grid_vals.index.isin(in_view), "open_now"].sum()) if points else 0
    legend(
        scene.scale,
        aggregates=bool(scene.aggregates),
        points=bool(scene.points),
        point_note=t_plain(  # the legend is HTML: legend_html escapes it
            "map.legend.points", shown=f"{len(points):,}", total=f"{max(open_total, len(points)):,}"
        ),
    )
    if figure == "days_since" and scene.areas_layer == "communities":
        st.caption(t("map.legend.days_community"))
target = _selection_target(event)
if target is not None:
    _go(*target)
    st.rerun()

with right:
    if level == "grid" and grid_area is not None:
        panel = _panel(scope, url, grid_area.code, period, minute, blind_days, lang)
        if panel is None:
            st.warning(t("map.not_in_scope", code=grid_area.code))
        else:
            _show_grid_panel(panel)
    elif level == "community" and community_area is not None:
        st.subheader(plain(community_area.name))
        st.caption(plain(community_area.code))
        if community_area.in_scope:
            _summary(
                community_vals.loc[community_area.id] if community_area.id in community_vals.index else None
            )
            page_link(
                "pages/queue.py",
                t("map.profile.queue_community"),
                ":material/list_alt:",
                {"community": community_area.code},
            )
        _ranking_panel(scene, "map.profile.rank_grids")
    else:
        st.subheader(plain(sub_name))
        if me.reads_all and not community_vals.empty:
            _summary(community_vals.sum(numeric_only=True))
        _ranking_panel(
            scene,
            "map.profile.rank_communities"
            if scene.areas_layer == "communities"
            else "map.profile.rank_grids",
        )
