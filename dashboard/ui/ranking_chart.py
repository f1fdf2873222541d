"""The ranking chart of the meeting report: one dot per unit with its score written beside it, on an axis
that starts near the lowest score (scores of 88 and 95 look alike as bars on a 0–100 axis)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.reporting.ranking import score_axis

DOT_COLOUR = "#2c7fb8"
ROW_HEIGHT = 32


def score_dots(names: Sequence[str], scores: Sequence[float], x_title: str) -> go.Figure:
    """Dots of `scores` by unit, top to bottom in the order given; names are shown by Plotly, so escape
    user text first (``chart_text``)."""
    low, high = score_axis(scores)
    fig = go.Figure(
        go.Scatter(
            x=list(scores),
            y=list(names),
            mode="markers+text",
            text=[f"{v:.1f}" for v in scores],
            textposition="middle right",
            marker={"size": 14, "color": DOT_COLOUR},
            hovertemplate="%{y}: %{x:.1f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 60 + ROW_HEIGHT * len(names)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [low, high], "title": {"text": x_title}, "zeroline": False},
        yaxis={"type": "category", "autorange": "reversed", "showgrid": True},
        showlegend=False,
    )
    return fig
