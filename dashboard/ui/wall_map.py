"""The wall screen's map: grid polygons coloured by a figure, community boundaries and community names, as a
Plotly figure that fills its panel and reads from five metres.

Why Plotly and not the deck.gl map of the map page: the wall needs names on the map, and deck.gl's text
layer builds a font atlas that takes tens of seconds on the software-rendered WebGL of wall PCs; Plotly
draws SVG text with the page's fonts at once. The map is small (a sub-district), so lon/lat are drawn on
a plane with the longitude scaled by cos(latitude) (equal-area to well under 1 %).

Sizes are pixels on a 1920×1080 wall (every text at least :data:`WALL_FONT_PX`); a 3840×2160 wall draws
the same figure at twice the scale (``ui/wall.py``'s CSS), so its text is at least twice as large.
Community names that would overlap are moved outward from the centre, with a line to their community.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.territory.areas import Area

WALL_FONT_PX = 24
"""The smallest text on the wall at 1920×1080, in CSS pixels (read at 5 m)."""
MAP_HEIGHT_PX = 480
"""The map's height on a 1920×1080 wall (what is left of the screen beside the tiles, legend and ticker)."""
WALL_WIDTH_PX = 1874
"""The wall's content width at 1920×1080 (the screen less 1.2vw padding on each side, ``ui/wall.py``)."""
PANEL_PAD_PX = 26
"""The map panel's padding and border across (0.6vw each side and 1 px borders)."""
NAMES_ROOM = 1.3
"""Width beside the sub-district for the names pushed outward (as a share of its width)."""
MAP_SHARE = (0.3, 0.6)
"""The least and most of the wall's width the map panel takes (the side panel keeps at least 40 %)."""
_GRID_LINE = "rgba(255,255,255,0.85)"
_OUTLINE = "rgba(230,236,240,0.95)"
_LABEL_BG = "rgba(7,13,24,0.72)"
_TEXT = "#f4f6f8"
_CHAR_PX = WALL_FONT_PX * 1.05  # a CJK character's width at that size, with the box's padding
_BOX_PAD_PX = 14


def _rings(geometry: dict[str, Any]) -> Iterator[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon."""
    if geometry.get("type") == "Polygon":
        yield geometry["coordinates"][0]
    elif geometry.get("type") == "MultiPolygon":
        for polygon in geometry["coordinates"]:
            yield polygon[0]


def map_share(bounds: tuple[float, float, float, float]) -> float:
    """The share of the wall's width the map panel takes: as wide as the sub-district drawn
    :data:`MAP_HEIGHT_PX` high, with room for the names, so that the map fills its panel (a round
    sub-district in a fixed 3/5 of the wall left half the panel empty), within :data:`MAP_SHARE`."""
    west, south, east, north = bounds
    k = math.cos(math.radians((south + north) / 2))
    height = (north - south) * 1.06 or 0.002  # with the 3 % padding of _Plane, above and below
    width_px = MAP_HEIGHT_PX * (east - west) * k / height * NAMES_ROOM + PANEL_PAD_PX
    return min(max(width_px / WALL_WIDTH_PX, MAP_SHARE[0]), MAP_SHARE[1])


def map_width_px(share: float) -> float:
    """The map's width on a 1920×1080 wall in a panel of `share` of the wall's width."""
    return share * WALL_WIDTH_PX - PANEL_PAD_PX


class _Plane:
    """lon/lat → plane coordinates (longitude scaled by cos of the middle latitude), and pixel sizes."""

    def __init__(self, bounds: tuple[float, float, float, float], width_px: float) -> None:
        west, south, east, north = bounds
        self.k = math.cos(math.radians((south + north) / 2))
        self.lon0 = (west + east) / 2
        pad = (north - south) * 0.03 or 0.001
        self.y_range = (south - pad, north + pad)
        self.per_px = (self.y_range[1] - self.y_range[0]) / MAP_HEIGHT_PX  # plane units per pixel
        half = self.per_px * width_px / 2
        self.x_range = (-half, half)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.k, lat

    def line(self, geometry: dict[str, Any]) -> tuple[list[float | None], list[float | None]]:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ring in _rings(geometry):
            for lon, lat, *_ in ring:
                x, y = self.xy(lon, lat)
                xs.append(x)
                ys.append(y)
            xs.append(None)
            ys.append(None)
        return xs, ys


def _rgba(colour: Sequence[int]) -> str:
    r, g, b, *a = colour
    return f"rgba({r},{g},{b},{(a[0] if a else 255) / 255:.2f})"


def _overlaps(
    box: tuple[float, float, float, float], placed: list[tuple[float, float, float, float]]
) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)


def label_positions(communities: Sequence[Area], plane: _Plane) -> list[tuple[Area, float, float, bool]]:
    """(community, x, y, moved) for each name: at its label point when there is room, else pushed outward
    from the map's centre until it overlaps no other name, never past the map's edge; the largest
    communities are placed first."""
    cx = (plane.x_range[0] + plane.x_range[1]) / 2
    cy = (plane.y_range[0] + plane.y_range[1]) / 2
    step = 12 * plane.per_px
    height = (WALL_FONT_PX + _BOX_PAD_PX) * plane.per_px

    def size(a: Area) -> float:
        w, s, e, n = a.bounds
        return (e - w) * (n - s)

    placed: list[tuple[float, float, float, float]] = []
    out = []
    for area in sorted(communities, key=size, reverse=True):
        x0, y0 = plane.xy(*area.label)
        width = (len(area.name) * _CHAR_PX + _BOX_PAD_PX) * plane.per_px
        dx, dy = x0 - cx, y0 - cy
        norm = math.hypot(dx, dy) or 1.0
        ux, uy = dx / norm, dy / norm
        x, y = x0, y0
        for i in range(200):  # kept inside the map: a name pushed past its edge would be cut
            x = min(max(x0 + ux * step * i, plane.x_range[0] + width / 2), plane.x_range[1] - width / 2)
            y = min(max(y0 + uy * step * i, plane.y_range[0] + height / 2), plane.y_range[1] - height / 2)
            box = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            if not _overlaps(box, placed):
                break
        placed.append(box)
        out.append((area, x, y, (x, y) != (x0, y0)))
    return out


def wall_map_figure(
    features: dict[str, Any],
    communities: Sequence[Area],
    bounds: tuple[float, float, float, float],
    width_px: float | None = None,
) -> go.Figure:
    """The wall map of `features` (``map_scene.features``: geometry, ``fill`` RGBA and plain-text ``tip``
    per grid) with the boundaries and names of `communities`, fitted to `bounds` (lon/lat) in a map
    `width_px` wide at 1920×1080 (by default the width :func:`map_share` gives it)."""
    plane = _Plane(bounds, map_width_px(map_share(bounds)) if width_px is None else width_px)
    fig = go.Figure()
    for feature in features["features"]:
        xs, ys = plane.line(feature["geometry"])
        props = feature["properties"]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=_rgba(props["fill"]),
                line={"color": _GRID_LINE, "width": 1},
                hoveron="fills",
                text=props["tip"].replace("\n", "<br>"),
                hoverinfo="text",
                name=props["code"],
            )
        )
    xs, ys = [], []
    for area in communities:
        ax, ay = plane.line(area.geometry)
        xs += ax
        ys += ay
    fig.add_trace(
        go.Scatter(x=xs, y=ys, mode="lines", line={"color": _OUTLINE, "width": 3}, hoverinfo="skip")
    )
    for area, x, y, moved in label_positions(communities, plane):
        ax, ay = plane.xy(*area.label)
        fig.add_annotation(
            x=ax if moved else x,
            y=ay if moved else y,
            ax=x,
            ay=y,
            axref="x",
            ayref="y",
            text=area.name,
            showarrow=moved,
            arrowhead=0,
            arrowwidth=2,
            arrowcolor=_OUTLINE,
            font={"size": WALL_FONT_PX, "color": _TEXT},
            bgcolor=_LABEL_BG,
            borderpad=4,
        )
    axis = {"visible": False, "fixedrange": True}
    fig.update_layout(
        height=MAP_HEIGHT_PX,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        font={"size": WALL_FONT_PX, "color": _TEXT},
        hoverlabel={"font": {"size": WALL_FONT_PX}},
        xaxis={**axis, "range": list(plane.x_range), "scaleanchor": "y", "scaleratio": 1},
        yaxis={**axis, "range": list(plane.y_range)},
        dragmode=False,
    )
    return fig
