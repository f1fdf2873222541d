"""The map's hotspot layer (研判预警): grids coloured by their Getis-Ord Gi* class and its significance.

A raw count says where many cases are; the layer says where a category clusters over neighbouring grids more
than chance would give (hot) or less (cold), from the stored result of the morning run
(``dashboard.reporting.warning.store.hotspot_layer``): nothing is computed here but colours and words.
Shades follow the 95 and 99 % confidence bands of a hot-spot map; a grid the statistic does not
single out is drawn light grey, a grid outside the actor's scope is context only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dashboard.i18n import t_plain
from dashboard.kernel.formatting import p_phrase
from dashboard.territory.areas import Territory
from dashboard.territory.map_scales import RGBA

CONFIDENCE: tuple[tuple[float, str], ...] = ((0.01, "99%"), (0.05, "95%"))
"""(largest p-value, confidence) from the most to the least significant band; the last band ends at the
store's threshold of a hot or cold spot (``store.HOTSPOT_P``)."""
HOT: dict[str, RGBA] = {"99%": [178, 24, 43, 215], "95%": [239, 138, 98, 205]}
COLD: dict[str, RGBA] = {"99%": [33, 102, 172, 215], "95%": [103, 169, 207, 205]}
NOT_SIGNIFICANT: RGBA = [236, 240, 241, 150]


class StoredCell(Protocol):
    """One grid of the stored layer (``store.HotspotCell``): its Gi* z, p and class hot | cold | none."""

    grid_id: int
    z: float
    p: float
    cls: str


@dataclass(frozen=True)
class MapCell:
    """One grid in scope with its Gi* result (None where the run left it out)."""

    grid_id: int
    code: str
    name: str
    z: float | None
    p: float | None
    kind: str  # hot | cold | none

    @property
    def confidence(self) -> str | None:
        """The confidence band of a hot or cold grid ('99%', '95%'), None when not significant."""
        if self.kind not in ("hot", "cold"):
            return None
        return confidence(self.p)


def confidence(p: float | None) -> str | None:
    """The confidence band of a p-value, None above the last band (or unknown)."""
    if p is None or math.isnan(p):
        return None
    return next((level for top, level in CONFIDENCE if p <= top), None)


def colour(kind: str, p: float | None) -> RGBA:
    """The fill of a grid: red shades for hot spots, blue for cold ones, by confidence; grey otherwise."""
    level = confidence(p) if kind in ("hot", "cold") else None
    if level is None:
        return list(NOT_SIGNIFICANT)
    return list((HOT if kind == "hot" else COLD)[level])


def p_text(p: float | None) -> str:
    """A p-value as a reader expects it: three decimals, '< 0.001' below that, '—' when unknown."""
    if p is None or math.isnan(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def z_text(z: float | None) -> str:
    if z is None or math.isnan(z):
        return "—"
    return f"{z:+.2f}"


def cells(territory: Territory, layer: Iterable[StoredCell]) -> list[MapCell]:
    """The grids in the actor's scope (territory order) with their stored result."""
    by_grid = {int(c.grid_id): (float(c.z), float(c.p), str(c.cls)) for c in layer}
    out = []
    for g in territory.grids:
        if not g.in_scope:
            continue
        z, p, kind = by_grid.get(g.id, (math.nan, math.nan, "none"))
        out.append(
            MapCell(
                g.id,
                g.code,
                g.name,
                None if math.isnan(z) else z,
                None if math.isnan(p) else p,
                kind,
            )
        )
    return out


def features(territory: Territory, found: Sequence[MapCell], lang: str | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the grids in scope, filled by class and significance, with a plain-text
    tooltip (``tip``: name, code, class, z and p)."""
    shapes = {g.id: g for g in territory.grids}
    out = []
    for cell in found:
        area = shapes[cell.grid_id]
        kind = t_plain(f"warning.class.{cell.kind if cell.confidence else 'none'}", lang)
        tip = t_plain("warning.map.tip", lang, kind=kind, z=z_text(cell.z), p=p_phrase(cell.p))
        out.append(
            {
                "type": "Feature",
                "geometry": area.geometry,
                "properties": {
                    "code": area.code,
                    "name": area.name,
                    "level": "grid",
                    "parent": area.parent,
                    "value": cell.z,
                    "fill": colour(cell.kind, cell.p),
                    "tip": f"{area.name}（{area.code}）\n{tip}",
                    "in_scope": True,
                },
            }
        )
    return {"type": "FeatureCollection", "features": out}


def significant(found: Sequence[MapCell]) -> list[MapCell]:
    """The hot spots (strongest first), then the cold spots (strongest first)."""
    hot = sorted((c for c in found if c.kind == "hot" and c.confidence), key=lambda c: -(c.z or 0.0))
    cold = sorted((c for c in found if c.kind == "cold" and c.confidence), key=lambda c: c.z or 0.0)
    return [*hot, *cold]
