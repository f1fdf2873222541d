"""Map widgets: the pydeck deck of grid polygons and case layers, and its legend.

Used by the map page and the wall screen. The deck asks nothing of the internet: all data is inline,
tooltips are plain text built on the server (``{tip}``, so no user text is rendered as HTML), and by
default there is no basemap at all — the polygons are drawn by deck.gl alone over the page background.

Why no basemap by default: ``static/map-style.json`` (a blank MapLibre style, served at
``/app/static/map-style.json``) loads without any outside request, but with a basemap Streamlit draws
the deck through mapbox-gl, and in headless Chromium (software WebGL) that combination shows an empty
dark canvas, while the deck alone renders (checked in tests/e2e/test_map_e2e.py). So the blank style
is treated as "no basemap"; any other ``MAP_STYLE_URL`` (an intranet tile/style server) is used as a
real basemap. Never pass ``map_style=None`` to pydeck: Streamlit then substitutes Carto's style from
the internet.
"""

from __future__ import annotations

import html
from typing import Any

import pydeck as pdk
import streamlit as st

from dashboard.admin.settings import cached_setting
from dashboard.i18n import label, t, t_plain
from dashboard.territory.map_figures import FIGURES, figure_label, format_value
from dashboard.territory.map_scales import AGEING_COLOURS, NO_DATA, Scale, legend_ticks
from dashboard.territory.map_scene import MapScene

BLANK_STYLE_URL = "/app/static/map-style.json"

_AREA_LINE = [255, 255, 255, 220]
_OUTLINE = [44, 62, 80, 230]
_GRID_LINE = [90, 100, 110, 140]
_HOVER = [255, 255, 255, 70]
_OTHER_FILL = [236, 240, 241, 110]
_TOOLTIP_STYLE = {
    "backgroundColor": "rgba(23, 33, 46, 0.92)",
    "color": "#f4f6f8",
    "fontSize": "13px",
    "whiteSpace": "pre-line",
    "padding": "6px 8px",
    "borderRadius": "4px",
}


def map_style() -> str | None:
    """The basemap style URL (system setting, default ``MAP_STYLE_URL``), or None (no basemap) for the
    bundled blank style."""
    configured = str(cached_setting("map_style_url"))
    return None if not configured or configured == BLANK_STYLE_URL else configured


def _geojson(layer_id: str, data: dict[str, Any], **props: Any) -> pdk.Layer:
    return pdk.Layer("GeoJsonLayer", data=data, id=layer_id, **props)


def grid_map_deck(
    features: dict[str, Any],
    figure: str,
    *,
    layer_id: str = "grids",
    view: dict[str, float] | None = None,
    others: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    grid_lines: dict[str, Any] | None = None,
    outlines: dict[str, Any] | None = None,
    highlight: dict[str, Any] | None = None,
    aggregates: list[dict[str, Any]] | None = None,
    points: list[dict[str, Any]] | None = None,
    dark: bool = False,
    style_url: str | None = None,
) -> pdk.Deck:
    """A deck of area polygons coloured by `figure` (``properties.fill`` from ``map_scene.features``).

    Layers bottom-up: `others` (clickable neighbours, id "communities"), `context` (grey, out of scope),
    the coloured `features` (id `layer_id`, clickable), `grid_lines`, `outlines` (community boundaries),
    `highlight` (selected / own grid), `aggregates` (one circle per grid, area ∝ open cases) and `points`
    (open cases coloured by ageing, id "cases"). Every clickable feature carries a plain-text ``tip``.
    No TextLayer: building its font atlas costs tens of seconds on software-rendered WebGL (wall PCs,
    headless browsers); counts are in the tooltips and the ranking beside the map.
    No ``*_units`` props either: with Streamlit's deck.gl any ``radiusUnits``/``lineWidthUnits``
    blanked the whole canvas in Chromium; radii are in metres (the default) with pixel minimums.
    """
    layers: list[pdk.Layer] = []
    if others:
        layers.append(
            _geojson(
                "communities",
                others,
                pickable=True,
                stroked=True,
                filled=True,
                get_fill_color=_OTHER_FILL,
                get_line_color=_GRID_LINE,
                line_width_min_pixels=1,
                auto_highlight=True,
                highlight_color=_HOVER,
            )
        )
    if context:
        layers.append(
            _geojson(
                "context",
                context,
                pickable=False,
                stroked=True,
                filled=True,
                get_fill_color=NO_DATA,
                get_line_color=_AREA_LINE,
                line_width_min_pixels=1,
            )
        )
    layers.append(
        _geojson(
            layer_id,
            features,
            pickable=True,
            stroked=True,
            filled=True,
            get_fill_color="properties.fill",
            get_line_color=_AREA_LINE,
            line_width_min_pixels=1,
            auto_highlight=True,
            highlight_color=_HOVER,
            update_triggers={"getFillColor": [figure]},
        )
    )
    if grid_lines:
        layers.append(
            _geojson(
                "grid_lines",
                grid_lines,
                pickable=False,
                stroked=True,
                filled=False,
                get_line_color=_GRID_LINE,
                line_width_min_pixels=0.5,
            )
        )
    if outlines:
        layers.append(
            _geojson(
                "outlines",
                outlines,
                pickable=False,
                stroked=True,
                filled=False,
                get_line_color=[230, 236, 240, 230] if dark else _OUTLINE,
                line_width_min_pixels=2,
            )
        )
    if highlight:
        layers.append(
            _geojson(
                "highlight",
                highlight,
                pickable=False,
                stroked=True,
                filled=False,
                get_line_color="properties.line",
                get_line_width=1,
                line_width_min_pixels=4,
            )
        )
    if aggregates:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=aggregates,
                id="case_totals",
                pickable=False,
                get_position="position",
                get_radius="radius",
                radius_min_pixels=5,
                get_fill_color="colour",
                stroked=True,
                get_line_color=[255, 255, 255, 230],
                line_width_min_pixels=1,
                opacity=0.85,
            )
        )
    if points:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=points,
                id="cases",
                pickable=True,
                get_position="position",
                get_fill_color="colour",
                get_radius=14,
                radius_min_pixels=3,
                radius_max_pixels=9,
                stroked=True,
                get_line_color=[255, 255, 255, 220],
                line_width_min_pixels=1,
                auto_highlight=True,
            )
        )
    view = view or {"longitude": 118.28, "latitude": 33.96, "zoom": 12}
    style = style_url or map_style()
    basemap: dict[str, Any] = (
        {"map_provider": "mapbox", "map_style": style} if style else {"map_provider": None}
    )
    return pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(**view, pitch=0, bearing=0),
        tooltip={"text": "{tip}", "style": _TOOLTIP_STYLE},
        **basemap,
    )


def scene_deck(scene: MapScene, *, dark: bool = False, style_url: str | None = None) -> pdk.Deck:
    """The deck of a :class:`~dashboard.territory.map_scene.MapScene`."""
    return grid_map_deck(
        scene.areas,
        scene.figure,
        layer_id=scene.areas_layer,
        view=scene.view,
        others=scene.others,
        context=scene.context,
        grid_lines=scene.grid_lines,
        outlines=scene.outlines,
        highlight=scene.highlight,
        aggregates=scene.aggregates,
        points=scene.points,
        dark=dark,
        style_url=style_url,
    )


def _rgb(colour: tuple[int, ...] | list[int]) -> str:
    return f"rgb({int(colour[0])},{int(colour[1])},{int(colour[2])})"


def legend_html(scale: Scale, *, aggregates: bool = False, points: bool = False, point_note: str = "") -> str:
    """The legend as an HTML fragment (only our own labels and numbers, all escaped)."""
    e = html.escape
    lo, hi = scale.domain
    span = (hi - lo) or 1.0
    stops = ", ".join(f"{_rgb(c)} {(v - lo) / span * 100:.1f}%" for v, c in scale.stops)
    spec = FIGURES[scale.figure]
    title = f"{figure_label(scale.figure)}（{t(f'map.unit.{spec.unit}')}）"
    kind = t("map.legend.diverging") if scale.kind == "diverging" else t("map.legend.sequential")
    ticks = "".join(
        f'<span style="position:absolute;left:{pos * 100:.1f}%;transform:translateX(-{pos * 100:.0f}%);'
        f'white-space:nowrap">{e(text)}</span>'
        for pos, text in legend_ticks(scale)
    )
    target = ""
    if scale.target is not None:
        pos = (scale.target - lo) / span * 100
        name = "map.legend.threshold" if scale.figure == "days_since" else "map.legend.target"
        text = format_value(scale.figure, scale.target)
        target = (
            f'<div style="position:absolute;left:{pos:.1f}%;top:-3px;height:20px;border-left:2px dashed #1f2933">'
            f'</div><div style="position:absolute;left:{pos:.1f}%;top:-19px;transform:translateX(-50%);'
            f'font-size:11px;white-space:nowrap">▼ {e(t_plain(name, value=text))}</div>'
        )
    extra = [
        f'<span style="display:inline-block;width:12px;height:12px;background:{_rgb(NO_DATA)};'
        f'vertical-align:middle;margin-right:4px"></span>{e(t("map.legend.no_data"))}'
    ]
    if aggregates:
        extra.append(e(t("map.legend.aggregates")))
    if points or aggregates:
        extra.append(
            " ".join(
                f'<span style="display:inline-block;width:10px;height:10px;border-radius:50%;background:{_rgb(c)};'
                f'vertical-align:middle;margin:0 3px 0 8px"></span>{e(label("ageing", a))}'
                for a, c in AGEING_COLOURS.items()
            )
        )
    if points and point_note:
        extra.append(e(point_note))
    return (
        '<div class="map-legend" style="font-size:13px;line-height:1.4;padding:2px 0 4px">'
        f'<div style="font-weight:600">{e(title)} <span style="font-weight:400;opacity:.75">· {e(kind)}</span></div>'
        '<div style="position:relative;margin:22px 8px 2px;max-width:520px">'
        f'<div style="height:14px;border-radius:3px;background:linear-gradient(to right, {stops})"></div>'
        f'{target}<div style="position:relative;height:18px;font-size:12px">{ticks}</div></div>'
        f'<div style="font-size:12px;opacity:.85">{" · ".join(extra)}</div></div>'
    )


def legend(scale: Scale, *, aggregates: bool = False, points: bool = False, point_note: str = "") -> None:
    """Render the legend of a map: colour bar with scale, units and target; grey for no data; ageing dots."""
    st.html(legend_html(scale, aggregates=aggregates, points=points, point_note=point_note))


def buildings_deck(buildings: list[dict[str, Any]]) -> pdk.Deck:
    """The buildings to pick a place from (layer ``buildings``: one pickable dot each, ``id``, ``lon``, ``lat``
    and ``tip`` per row), centred on them, over the app's basemap style."""
    lons = [b["lon"] for b in buildings] or [118.28]
    lats = [b["lat"] for b in buildings] or [33.96]
    spread = max(max(lons) - min(lons), max(lats) - min(lats))
    layer = pdk.Layer(
        "ScatterplotLayer",
        data=buildings,
        id="buildings",
        get_position="[lon, lat]",
        get_radius=12,
        radius_min_pixels=4,
        radius_max_pixels=12,
        get_fill_color=[41, 128, 185, 220],
        get_line_color=[255, 255, 255],
        stroked=True,
        line_width_min_pixels=1,
        pickable=True,
        auto_highlight=True,
    )
    style = map_style()
    basemap: dict[str, Any] = (
        {"map_provider": "mapbox", "map_style": style} if style else {"map_provider": None}
    )
    view = pdk.ViewState(
        longitude=(max(lons) + min(lons)) / 2,
        latitude=(max(lats) + min(lats)) / 2,
        zoom=15 if spread < 0.01 else 13 if spread < 0.05 else 12,
        pitch=0,
        bearing=0,
    )
    return pdk.Deck(
        layers=[layer],
        initial_view_state=view,
        tooltip={"text": "{tip}", "style": _TOOLTIP_STYLE},
        **basemap,
    )
