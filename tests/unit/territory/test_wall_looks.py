"""The wall reads from five metres: every text at least 24 px at 1920×1080 (the 4K wall draws the same at
twice the scale), the map fills its panel and names the communities (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import math
import re
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.territory import areas, map_scene
from dashboard.territory.map_scales import make_scale
from dashboard.ui import wall as wall_ui
from dashboard.ui.wall_map import (
    MAP_HEIGHT_PX,
    MAP_SHARE,
    NAMES_ROOM,
    WALL_FONT_PX,
    map_share,
    map_width_px,
    wall_map_figure,
)
from models.enums import Role

LEADER = Actor(id=0, username="wall", display_name="wall", role=Role.leader)


def _font_sizes(node: Any, path: str = "") -> list[tuple[str, float]]:
    """Every ``size`` of a font object anywhere in a figure's JSON."""
    out: list[tuple[str, float]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key.endswith("font") and isinstance(value, dict) and "size" in value:
                out.append((here, float(value["size"])))
            out += _font_sizes(value, here)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            out += _font_sizes(value, f"{path}[{i}]")
    return out


def test_wall_map_names_communities_in_large_type(seeded_ro_url: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        territory = areas.load_territory(s, LEADER)
    grids = [g for g in territory.grids if g.in_scope]
    values = pd.DataFrame({"open_now": 1.0, "overdue_now": [float(i % 3) for i in range(len(grids))]})
    values.index = [g.id for g in grids]
    scale = make_scale("overdue_now", list(values["overdue_now"]))
    feats = map_scene.features(grids, values, "overdue_now", scale, LEADER, "zh")
    fig = wall_map_figure(feats, territory.communities, territory.bounds)
    spec = fig.to_plotly_json()
    assert spec["layout"]["font"]["size"] >= WALL_FONT_PX  # the default of every text without its own size
    sizes = _font_sizes(spec)
    assert sizes and all(size >= WALL_FONT_PX for _, size in sizes), sizes
    names = {a["text"] for a in spec["layout"]["annotations"]}
    assert names == {c.name for c in territory.communities}  # every community named on the map
    assert fig.layout.height == MAP_HEIGHT_PX and fig.layout.margin.t == 0 and fig.layout.margin.l == 0
    lo, hi = fig.layout.yaxis.range  # the sub-district fills the map's height (3 % padding)
    west, south, east, north = territory.bounds
    assert (north - south) / (hi - lo) > 0.9
    # … and its width: the panel is as wide as the map (a fixed 3/5 of the wall left half of it empty)
    left, right = fig.layout.xaxis.range
    filled = (east - west) * math.cos(math.radians((south + north) / 2)) / (right - left)
    assert filled * NAMES_ROOM > 0.9  # all of the width but the room for the names pushed outward
    assert MAP_SHARE[0] < map_share(territory.bounds) < MAP_SHARE[1]
    assert len(fig.data) == len(grids) + 1  # a polygon per grid, and the community boundaries


def test_the_map_panel_takes_the_width_its_map_needs_within_limits() -> None:
    wider = (118.0, 33.0, 118.08, 33.05)  # about 7.5 by 5.6 km
    assert 0.3 < map_share(wider) < 0.45 and map_width_px(map_share(wider)) > MAP_HEIGHT_PX
    assert map_share((118.0, 33.0, 118.5, 33.05)) == MAP_SHARE[1]  # a long strip: the side panel keeps 40 %
    assert map_share((118.0, 33.0, 118.01, 33.2)) == MAP_SHARE[0]


def _css_min_px(css: str) -> list[tuple[str, float]]:
    """(declaration, smallest size in px at 1920 wide) of every font-size in the wall's stylesheet."""
    out = []
    for value in re.findall(r"font-size:\s*([^;!}]+)", css):
        px = [float(v) for v in re.findall(r"([\d.]+)px", value)]
        vw = [float(v) * 19.2 for v in re.findall(r"([\d.]+)vw", value)]
        both = px + vw
        out.append((value, max(px[0], vw[0]) if value.strip().startswith(("clamp(", "max(")) else min(both)))
    return out


def test_wall_css_and_trend_text_are_large() -> None:
    sizes = _css_min_px(wall_ui.WALL_CSS)
    assert sizes and all(px >= WALL_FONT_PX - 0.5 for _, px in sizes), sizes
    trend = tuple((date(2026, 11, 17 + i), 10 + i, 9 + i) for i in range(7))
    img = wall_ui.sparkline_img(trend, "zh", now=datetime(2026, 11, 23, 9))
    svg = base64.b64decode(img.split("base64,")[1].split('"')[0]).decode()
    view_w = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))  # type: ignore[union-attr]
    drawn_w = 0.4 * 1920 - 60  # the side panel's image at 1920 wide, at least
    fonts = [float(v) * drawn_w / view_w for v in re.findall(r'font-size="([\d.]+)"', svg)]
    assert fonts and min(fonts) >= WALL_FONT_PX, fonts
