"""The coverage heatmap reads: communities as rows (the grids of one community when it is picked), skills as
columns with horizontal labels, and a colour-blind-safe sequential scale rather than red–green."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.ui.coverage_chart import COVERAGE_COLOURS, coverage_heatmap
from dashboard.volunteers import need

SKILLS = ("急救", "助老探访", "数字助老")


def _cells() -> pd.DataFrame:
    rows = []
    for c in range(11):  # 11 communities, 9 grids each: 99 grids, as many as the real sub-district
        for g in range(9):
            for k, skill in enumerate(SKILLS):
                need_ = 2 + k
                supply = (c + g + k) % (need_ + 1)
                rows.append(
                    {
                        "grid_id": c * 10 + g,
                        "code": f"XL-{c + 1:02d}-{g + 1:02d}",
                        "name": f"第{g + 1}网格",
                        "community_id": c + 1,
                        "community": f"社区{c + 1}",
                        "skill": skill,
                        "need": need_,
                        "supply": supply,
                        "gap": need_ - supply,
                        "covered": min(supply, need_),
                        "coverage": supply / need_,
                    }
                )
    return pd.DataFrame(rows)


def test_rows_are_communities_then_grids() -> None:
    cells = _cells()
    every = need.heatmap_rows(cells)
    assert every["row"].nunique() == 11 and every["skill"].nunique() == 3
    first = every[(every["row_id"] == 1) & (every["skill"] == "急救")].iloc[0]
    part = cells[(cells["community_id"] == 1) & (cells["skill"] == "急救")]
    assert first["need"] == part["need"].sum() and first["covered"] == part["covered"].sum()
    assert first["coverage"] == pytest.approx(part["covered"].sum() / part["need"].sum())
    one = need.heatmap_rows(cells, community_id=3)
    assert one["row"].nunique() == 9 and one["row"].iloc[0].startswith("XL-03-01")


@pytest.mark.parametrize("community", [None, 3])
def test_heatmap_is_readable_and_colour_blind_safe(community: int | None) -> None:
    fig = coverage_heatmap(need.heatmap_rows(_cells(), community_id=community), "zh")
    heat = fig.data[0]
    assert len(heat.y) <= 12  # a row per community (or per grid of one community), not 97 columns
    assert len(heat.x) == len(SKILLS)
    assert fig.layout.xaxis.tickangle in (None, 0)  # nothing rotated
    colours = [c for _, c in heat.colorscale]
    assert colours == [c for _, c in COVERAGE_COLOURS]
    reds = [c for c in colours if int(c[1:3], 16) > 180 and int(c[3:5], 16) < 90]
    assert not reds  # no red end: the scale is one hue family, light (gap) to dark (met)
    lightness = [sum(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours]
    assert lightness == sorted(lightness, reverse=True)  # sequential: monotonic light → dark
    assert all(text.endswith("%") or text == "" for row in heat.text for text in row)
