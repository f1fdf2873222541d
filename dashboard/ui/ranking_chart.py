"""The ranking chart of the meeting report: one dot per unit with its score written beside it, on an axis
that starts near the lowest score (scores of 88 and 95 look alike as bars on a 0–100 axis); a unit
without a score says 无数据 on its row."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.reporting.ranking import score_axis

DOT_COLOUR = "#2c7fb8"
ROW_HEIGHT = 32
NO_DATA_COLOUR = "#6b7280"


def score_dots(names: Sequence[str], scores: Sequence[float | None], x_title: str, no_data: str) -> go.Figure:
    """Dots of `scores` by unit, top to bottom in the order given; a unit without a score (NaN or None)
    keeps its row, with `no_data` written where its dot would start, so the list stays complete. Names
    are shown by Plotly, so escape user text first (``chart_text``)."""
    scored = [(n, float(v)) for n, v in zip(names, scores, strict=True) if v is not None and v == v]
    missing = [n for n, v in zip(names, scores, strict=True) if v is None or v != v]
    low, high = score_axis(v for _, v in scored)
    fig = go.Figure(
        go.Scatter(
            x=[v for _, v in scored],
            y=[n for n, _ in scored],
            mode="markers+text",
            text=[f"{v:.1f}" for _, v in scored],
            textposition="middle right",
            marker={"size": 14, "color": DOT_COLOUR},
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    )
    if missing:
        fig.add_trace(
            go.Scatter(
                x=[low] * len(missing),
                y=missing,
                mode="text",
                text=[no_data] * len(missing),
                textposition="middle right",
                textfont={"color": NO_DATA_COLOUR},
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        height=max(220, 60 + ROW_HEIGHT * len(names)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [low, high], "title": {"text": x_title}, "zeroline": False},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(names),
            "autorange": "reversed",
            "showgrid": True,
        },
        showlegend=False,
    )
    return fig
