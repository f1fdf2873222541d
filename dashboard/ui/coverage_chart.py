"""The coverage heatmap of the volunteer coverage page: rows are communities (or the grids of one
community), columns the skills, each cell the share of need met, on a colour-blind-safe sequential scale.

Built from :func:`dashboard.volunteers.need.heatmap_rows`; labels go through ``chart_text`` (Plotly
renders them as HTML).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import t_plain
from dashboard.ui.common import chart_text
from dashboard.ui.volunteers import SKILL_OPTIONS, skill_label

COVERAGE_COLOURS: tuple[tuple[float, str], ...] = (
    (0.0, "#ffffcc"),
    (0.25, "#a1dab4"),
    (0.5, "#41b6c4"),
    (0.75, "#2c7fb8"),
    (1.0, "#253494"),
)
"""ColorBrewer YlGnBu: light (need unmet) to dark (met), one hue family, safe for colour-blind viewers."""
ROW_HEIGHT = 34


def coverage_heatmap(rows: pd.DataFrame, lang: str | None = None) -> go.Figure:
    """Rows × skills of coverage (0–100 %), each cell labelled with its percentage; blank without need."""
    skills = [s for s in SKILL_OPTIONS if s in set(rows["skill"])]
    labels = list(dict.fromkeys(rows["row"]))
    grid = rows.pivot_table(
        index="row", columns="skill", values=["coverage", "need", "supply"], aggfunc="first"
    )

    def part(column: str) -> pd.DataFrame:
        return grid[column].reindex(index=labels, columns=skills)

    z = part("coverage").clip(upper=1.0).to_numpy(dtype=float)
    text = np.where(np.isnan(z), "", np.char.mod("%d%%", np.nan_to_num(z * 100).round().astype(int)))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=chart_text(pd.Series([skill_label(s) for s in skills], dtype=object)).tolist(),
            y=chart_text(pd.Series(labels, dtype=object)).tolist(),
            zmin=0,
            zmax=1,
            colorscale=[list(stop) for stop in COVERAGE_COLOURS],
            customdata=np.dstack([part("need").fillna(0).to_numpy(), part("supply").fillna(0).to_numpy()]),
            text=text,
            texttemplate="%{text}",
            textfont={"size": 13},
            xgap=2,
            ygap=2,
            hovertemplate=t_plain("vol.heat_hover", lang),
            colorbar={"title": {"text": t_plain("vol.coverage_short", lang)}, "tickformat": ".0%"},
        )
    )
    fig.update_layout(
        height=80 + ROW_HEIGHT * len(labels),
        margin={"l": 10, "r": 10, "t": 30, "b": 4},
        xaxis={"type": "category", "side": "top", "tickangle": 0},
        yaxis={"type": "category", "autorange": "reversed"},
    )
    return fig
