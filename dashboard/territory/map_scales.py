"""Colour scales of the grid map: ColorBrewer palettes, the ageing colours of cases, and the legend ticks."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from dashboard.territory.map_figures import FIGURES, format_value
from models.enums import Ageing

RGBA = list[int]

NO_DATA: RGBA = [189, 195, 199, 150]
"""Grey for an area without data (no case in the period, no need, or outside the user's scope)."""

AGEING_COLOURS: dict[str, RGBA] = {
    Ageing.green.value: [39, 174, 96, 230],
    Ageing.yellow.value: [241, 196, 15, 240],
    Ageing.red.value: [231, 76, 60, 240],
    Ageing.black.value: [33, 33, 33, 240],
}

# ColorBrewer palettes (light → dark), RGB.
_REDS = [(254, 229, 217), (252, 174, 145), (251, 106, 74), (222, 45, 38), (165, 15, 21)]
_BLUES = [(239, 243, 255), (189, 215, 231), (107, 174, 214), (49, 130, 189), (8, 81, 156)]
_YLORRD = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]
# Rates diverge red (below target) → blue (above), not red → green: safe for red-green colour blindness.
_RDYLBU = [(215, 48, 39), (252, 141, 89), (254, 224, 144), (145, 191, 219), (69, 117, 180)]


@dataclass(frozen=True)
class Scale:
    """A colour scale: colours interpolated linearly between stops; values beyond the ends clamp."""

    figure: str
    stops: tuple[tuple[float, tuple[int, int, int]], ...]
    target: float | None = None
    alpha: int = 200

    @property
    def kind(self) -> Literal["sequential", "diverging"]:
        return "diverging" if FIGURES[self.figure].palette == "rdylbu" else "sequential"

    @property
    def domain(self) -> tuple[float, float]:
        return self.stops[0][0], self.stops[-1][0]

    def colour(self, value: float | None) -> RGBA:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return list(NO_DATA)
        stops = self.stops
        if value <= stops[0][0]:
            return [*stops[0][1], self.alpha]
        for (v0, c0), (v1, c1) in zip(stops, stops[1:], strict=False):
            if value <= v1:
                f = 0.0 if v1 == v0 else (value - v0) / (v1 - v0)
                return [round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True)] + [self.alpha]
        return [*stops[-1][1], self.alpha]


def _nice_ceiling(value: float) -> float:
    """The next 'nice' number ≥ value (1, 2, 2.5, 5 × 10^n); at least 1."""
    if value <= 1:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= value:
            return float(m * exp)
    return float(10 * exp)


def make_scale(figure: str, values: Iterable[float | None], *, blind_days: int = 30) -> Scale:
    """The colour scale for `figure` over the values on screen.

    Counts and population run from 0 to a nice ceiling of the largest value, at least the figure's
    ``min_top`` (light → dark); rates
    use a fixed red-yellow-blue scale centred on the target, so colours mean the same in every
    period; days since activity turn dark at the blind-spot threshold.
    """
    spec = FIGURES[figure]
    if figure in ("on_time_rate", "satisfaction_rate"):
        target = spec.target or 0.9
        points = (target - 0.2, target - 0.1, target, (target + 1) / 2, 1.0)
        return Scale(figure, tuple(zip(points, _RDYLBU, strict=True)), target)
    if figure == "coverage":
        return Scale(figure, tuple(zip((0.0, 0.25, 0.5, 0.75, 1.0), _RDYLBU, strict=True)), spec.target)
    if figure == "days_since":
        d = float(blind_days)
        return Scale(figure, tuple(zip((0.0, d / 4, d / 2, d, 2 * d), _YLORRD, strict=True)), d)
    present = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    top = _nice_ceiling(max([*present, spec.min_top]))
    palette = _BLUES if spec.palette == "blues" else _REDS
    return Scale(figure, tuple((top * i / 4, c) for i, c in enumerate(palette)))


def legend_ticks(scale: Scale, lang: str | None = None) -> list[tuple[float, str]]:
    """(position 0–1 along the bar, label) for the legend: both ends, the middle, and the target."""
    lo, hi = scale.domain
    span = (hi - lo) or 1.0
    marks = [lo, (lo + hi) / 2, hi]
    if scale.target is not None and scale.target not in marks:
        marks.append(scale.target)
    out = [((v - lo) / span, format_value(scale.figure, v, lang, unit=False)) for v in sorted(marks)]
    out[-1] = (out[-1][0], out[-1][1] + ("+" if FIGURES[scale.figure].unit != "percent" else ""))
    return out
