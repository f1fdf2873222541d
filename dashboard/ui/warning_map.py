"""The map page's 热点研判 layer: a category's hot and cold spots over the grids, with their significance.

The statistic (Getis-Ord Gi* with permutation p-values) was computed by the morning run and stored; this
draws it (``dashboard.territory.hotspot_map`` for colours and tooltips), with a legend of the confidence
bands and the list of significant grids beside the map. Nothing here reads cases.
"""

from __future__ import annotations

import html
from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.i18n import t, t_plain
from dashboard.reporting.warning import store
from dashboard.territory import hotspot_map, map_scene
from dashboard.territory.areas import Territory
from dashboard.territory.map_scales import RGBA
from dashboard.ui.cases import category_name, current_lookups
from dashboard.ui.common import db_session
from dashboard.ui.maps import grid_map_deck

LAYERS = ("figures", "hotspots")
"""The map page's layers: a figure per area (the page's own), or the hot and cold spots of a category."""


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def _layer(url: str, category: str, day: date | None) -> list[store.HotspotCell]:
    with db_session() as s:
        return store.hotspot_layer(s, category_code=category, day=day)


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _latest(url: str, minute: str) -> date | None:
    with db_session() as s:
        return store.latest_day(s)


def _swatch(colour: RGBA) -> str:
    r, g, b = colour[:3]
    return (
        f'<span style="display:inline-block;width:14px;height:14px;background:rgb({r},{g},{b});'
        'vertical-align:middle;margin:0 4px 0 10px;border-radius:2px"></span>'
    )


def legend_html(category: str, day: date | None) -> str:
    """The legend: hot bands, cold bands and not significant (our own labels only, escaped)."""
    e = html.escape
    title = t_plain("warning.map.legend_title", category=category, day=f"{day:%Y-%m-%d}" if day else "—")
    hot = "".join(
        f"{_swatch(hotspot_map.HOT[level])}{e(t_plain('warning.map.legend_hot', level=level))}"
        for _, level in hotspot_map.CONFIDENCE
    )
    cold = "".join(
        f"{_swatch(hotspot_map.COLD[level])}{e(t_plain('warning.map.legend_cold', level=level))}"
        for _, level in hotspot_map.CONFIDENCE
    )
    none = f"{_swatch(hotspot_map.NOT_SIGNIFICANT)}{e(t_plain('warning.map.legend_none'))}"
    return (
        '<div class="map-legend hotspot-legend" style="font-size:13px;line-height:1.9;padding:2px 0 4px">'
        f'<div style="font-weight:600">{e(title)}</div><div>{hot}</div><div>{cold}</div><div>{none}</div></div>'
    )


def _significant_table(cells: list[hotspot_map.MapCell]) -> None:
    st.markdown(f"**{t('warning.map.list_title')}**")
    found = hotspot_map.significant(cells)
    if not found:
        st.info(t("warning.map.list_empty"))
        return
    st.dataframe(
        pd.DataFrame(
            {
                t_plain("warning.evidence.grid"): [f"{c.code} {c.name}" for c in found],
                t_plain("warning.evidence.class"): [
                    f"{t_plain(f'warning.class.{c.kind}')} {c.confidence}" for c in found
                ],
                t_plain("warning.evidence.z"): [hotspot_map.z_text(c.z) for c in found],
                t_plain("warning.evidence.p"): [hotspot_map.p_text(c.p) for c in found],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def hotspot_view(territory: Territory, url: str, lang: str, height: int) -> None:
    """The layer: a category picker, the map of the grids coloured by Gi* class and confidence, the legend
    and the significant grids."""
    categories = {code: category_name(zh, en) for _, code, zh, en, _ in current_lookups()["categories"]}
    codes = list(categories)
    if st.session_state.get("map_hot_category") not in codes:
        wanted = st.query_params.get("category")
        st.session_state["map_hot_category"] = wanted if wanted in codes else (codes[0] if codes else None)
    if not codes:
        st.info(t("app.nothing"))
        return
    category = st.selectbox(
        t("warning.map.category"), codes, key="map_hot_category", format_func=lambda c: categories[c]
    )
    st.query_params["category"] = category
    day = _latest(url, f"{clock.now():%Y-%m-%d %H:%M}")
    cells = hotspot_map.cells(territory, _layer(url, category, day))
    left, right = st.columns([2.3, 1], gap="medium")
    with left:
        if not any(c.z is not None for c in cells):
            st.info(t("warning.map.no_data", day=f"{day:%Y-%m-%d}" if day else "—"))
        hidden = [g for g in territory.grids if not g.in_scope]
        deck = grid_map_deck(
            hotspot_map.features(territory, cells, lang),
            f"hotspot_{category}",
            view=map_scene.fit_view(territory.bounds),
            context=map_scene.outline_features(hidden) if hidden else None,
            outlines=map_scene.outline_features(territory.communities),
            dark=st.context.theme.type == "dark",
        )
        st.pydeck_chart(
            deck,
            height=height,
            key=f"hotspot_map_{category}",
            alt=t("warning.map.alt", category=categories[category]),
        )
        st.html(legend_html(categories[category], day))
    with right:
        _significant_table(cells)
