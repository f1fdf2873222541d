"""The grid map as the browser draws it: GeoJSON features coloured by a figure, outlines, one circle per grid,
the view that fits an area, and the scene of each level (sub-district, community, grid) with its ranking.

Everything here is plain JSON-ready data built from :mod:`dashboard.territory.areas` and the values of
:mod:`dashboard.territory.map_values`; ``dashboard.ui.maps`` turns a :class:`MapScene` into a pydeck deck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from dashboard.i18n import t, t_plain
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.territory.areas import Area, Level, Territory
from dashboard.territory.map_figures import figure_label, figures_for, format_value, worst_first
from dashboard.territory.map_scales import AGEING_COLOURS, NO_DATA, RGBA, Scale, make_scale
from dashboard.territory.map_values import figure_value

# ---------------------------------------------------------------- features


def _tip(area: Area, figure: str, values: pd.DataFrame, actor: Actor, lang: str | None) -> str:
    lines = [f"{area.name}（{area.code}）"]
    if area.level == "grid" and area.in_scope:
        lines.append(t_plain("map.tip.worker", lang, name=area.worker or t("map.profile.no_worker", lang)))
    if not area.in_scope:
        lines.append(t("map.tip.out_of_scope", lang))
        return "\n".join(lines)
    if may(actor, "case.browse"):
        lines.append(
            t_plain(
                "map.tip.open",
                lang,
                open=f"{int(figure_value(values, area.id, 'open_now') or 0):,}",
                overdue=f"{int(figure_value(values, area.id, 'overdue_now') or 0):,}",
            )
        )
    shown = {"open_now", "overdue_now"}
    for key in ("satisfaction_rate", "coverage", "days_since", figure):
        if key in shown or key not in figures_for(actor):
            continue
        shown.add(key)
        lines.append(
            f"{figure_label(key, lang)}：{format_value(key, figure_value(values, area.id, key), lang)}"
        )
    return "\n".join(lines)


def features(
    areas: Sequence[Area],
    values: pd.DataFrame,
    figure: str,
    scale: Scale,
    actor: Actor,
    lang: str | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of `areas` coloured by `figure`.

    Each feature's properties: code, name, level, parent, value (float or None), text (value with unit),
    fill (RGBA), tip (plain-text tooltip; the map's tooltip shows ``{tip}``), in_scope.
    """
    out = []
    for area in areas:
        value = figure_value(values, area.id, figure) if area.in_scope else None
        out.append(
            {
                "type": "Feature",
                "geometry": area.geometry,
                "properties": {
                    "code": area.code,
                    "name": area.name,
                    "level": area.level,
                    "parent": area.parent,
                    "value": value,
                    "text": format_value(figure, value, lang),
                    "fill": scale.colour(value) if area.in_scope else list(NO_DATA),
                    "tip": _tip(area, figure, values, actor, lang),
                    "in_scope": area.in_scope,
                },
            }
        )
    return {"type": "FeatureCollection", "features": out}


def outline_features(areas: Sequence[Area]) -> dict[str, Any]:
    """Boundaries only (code, name), for context and outline layers."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": a.geometry,
                "properties": {
                    "code": a.code,
                    "name": a.name,
                    "level": a.level,
                    "parent": a.parent,
                    "tip": f"{a.name}（{a.code}）",
                },
            }
            for a in areas
        ],
    }


def _worst_ageing(row: dict[str, float]) -> str:
    for colour in ("black", "red", "yellow"):
        if row.get(colour):
            return colour
    return "green"


def case_aggregates(
    grids: Sequence[Area], values: pd.DataFrame, max_radius_m: float = 180.0
) -> list[dict[str, Any]]:
    """One circle per grid with open cases: position at the grid's label point, area ∝ open cases,
    colour of the worst ageing present. This is what the sub-district view shows instead of points."""
    rows = [(g, values.loc[g.id].to_dict()) for g in grids if g.in_scope and g.id in values.index]
    rows = [(g, r) for g, r in rows if pd.notna(r.get("open_now")) and r["open_now"] > 0]
    top = max((r["open_now"] for _, r in rows), default=1)
    return [
        {
            "position": list(g.label),
            "code": g.code,
            "open": int(r["open_now"]),
            "radius": round(max_radius_m * math.sqrt(r["open_now"] / top), 1),
            "colour": AGEING_COLOURS[_worst_ageing(r)],
        }
        for g, r in rows
    ]


# ---------------------------------------------------------------- view


def fit_view(
    bounds: tuple[float, float, float, float],
    width: int = 1000,
    height: int = 640,
    padding: float = 0.1,
    max_zoom: float = 17.0,
) -> dict[str, float]:
    """Centre and Web-Mercator zoom that fit `bounds` (lon/lat) into a `width`×`height` pixel map."""
    west, south, east, north = bounds

    def merc_y(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max((east - west) / 360.0, 1e-9)
    dy = max((merc_y(north) - merc_y(south)) / (2 * math.pi), 1e-9)
    usable = 1 - 2 * padding
    zoom = min(math.log2(width * usable / (512 * dx)), math.log2(height * usable / (512 * dy)), max_zoom)
    centre_y = (merc_y(north) + merc_y(south)) / 2
    centre_lat = math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2)
    return {
        "longitude": round((west + east) / 2, 6),
        "latitude": round(centre_lat, 6),
        "zoom": round(zoom, 2),
    }


# ---------------------------------------------------------------- scenes

OWN_GRID_LINE: RGBA = [192, 57, 43, 255]
SELECTED_LINE: RGBA = [41, 128, 185, 255]


@dataclass(frozen=True)
class MapScene:
    """Everything one map view draws, as plain JSON-ready data (see ``dashboard.ui.maps.scene_deck``).

    `areas` is the coloured, clickable layer (``areas_layer`` is "communities" or "grids"); `others` are
    the other communities (clickable, uncoloured) around a community; `context` are grids outside the
    actor's scope (grey, not clickable); `grid_lines` thin grid boundaries over coloured communities;
    `outlines` the community boundaries; `highlight` the selected
    grid and the grid worker's own grid; `aggregates` one circle per grid (sub-district level); `points`
    open cases (community and grid level).
    """

    level: Level
    figure: str
    scale: Scale
    areas: dict[str, Any]
    areas_layer: Literal["communities", "grids"]
    outlines: dict[str, Any]
    view: dict[str, float]
    others: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    grid_lines: dict[str, Any] | None = None
    highlight: dict[str, Any] | None = None
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)


def _highlight(territory: Territory, actor: Actor, selected: Area | None) -> dict[str, Any] | None:
    """Outlines of the selected grid (dark blue) and of a grid worker's own grid (red)."""
    own = next((g for g in territory.grids if g.id == actor.grid_id), None) if actor.grid_id else None
    areas = [own] if own is not None else []
    if selected is not None and (own is None or selected.code != own.code):
        areas.append(selected)
    feats = [(g, OWN_GRID_LINE if g is own else SELECTED_LINE) for g in areas]
    if not feats:
        return None
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": a.geometry, "properties": {"code": a.code, "line": colour}}
            for a, colour in feats
        ],
    }


def build_scene(
    territory: Territory,
    grid_vals: pd.DataFrame,
    community_vals: pd.DataFrame,
    figure: str,
    actor: Actor,
    *,
    community: str | None = None,
    grid: str | None = None,
    unit: Literal["community", "grid"] = "community",
    points: list[dict[str, Any]] | None = None,
    lang: str | None = None,
    blind_days: int = 30,
    size: tuple[int, int] = (1000, 640),
) -> MapScene:
    """The map at sub-district level (no community), community level, or grid level (grid given).

    At sub-district level `unit` chooses whether communities or grids are coloured; clicking either
    drills into a community. The view fits the sub-district, the community or the grid.
    """
    selected = territory.grid(grid) if grid else None
    comm = territory.community(selected.parent if selected else community)
    outlines = outline_features(territory.communities)
    highlight = _highlight(territory, actor, selected)
    if comm is None:
        if unit == "grid":
            shown = [g for g in territory.grids if g.in_scope]
            scale = make_scale(
                figure, [figure_value(grid_vals, g.id, figure) for g in shown], blind_days=blind_days
            )
            hidden = [g for g in territory.grids if not g.in_scope]
            return MapScene(
                "subdistrict",
                figure,
                scale,
                features(shown, grid_vals, figure, scale, actor, lang),
                "grids",
                outlines,
                fit_view(territory.bounds, *size),
                context=outline_features(hidden) if hidden else None,
                highlight=highlight,
                aggregates=case_aggregates(shown, grid_vals),
            )
        shown_c = territory.communities
        scale = make_scale(
            figure,
            [figure_value(community_vals, c.id, figure) for c in shown_c if c.in_scope],
            blind_days=blind_days,
        )
        return MapScene(
            "subdistrict",
            figure,
            scale,
            features(shown_c, community_vals, figure, scale, actor, lang),
            "communities",
            outlines,
            fit_view(territory.bounds, *size),
            grid_lines=outline_features(territory.grids),
            highlight=highlight,
            aggregates=case_aggregates(territory.grids, grid_vals),
        )
    own = territory.grids_of(comm.code)
    shown = [g for g in own if g.in_scope]
    hidden = [g for g in own if not g.in_scope]
    scale = make_scale(figure, [figure_value(grid_vals, g.id, figure) for g in shown], blind_days=blind_days)
    others = [c for c in territory.communities if c.code != comm.code]
    return MapScene(
        "grid" if selected else "community",
        figure,
        scale,
        features(shown, grid_vals, figure, scale, actor, lang),
        "grids",
        outlines,
        fit_view(selected.bounds, *size, padding=0.3) if selected else fit_view(comm.bounds, *size),
        others=outline_features(others) if others else None,
        context=outline_features(hidden) if hidden else None,
        highlight=highlight,
        points=points or [],
    )


def ranking(areas: dict[str, Any], figure: str, limit: int | None = 10) -> pd.DataFrame:
    """The coloured areas of a scene ranked by `figure`, the ones needing attention first.

    Columns: code, name, value, text. Areas without a value (or outside the scope) are left out.
    """
    rows = [
        {k: f["properties"][k] for k in ("code", "name", "value", "text")}
        for f in areas["features"]
        if f["properties"].get("in_scope") and f["properties"].get("value") is not None
    ]
    df = pd.DataFrame(rows, columns=["code", "name", "value", "text"])
    df = df.sort_values(["value", "code"], ascending=[not worst_first(figure), True]).reset_index(drop=True)
    return df.head(limit) if limit else df
