"""Charts several pages share, and the one way every chart is shown (:func:`show`: dates in the user's language).

A daily trend's last day, today, is still running: today's count is only the part of the day so far, so a line drawn to it falls off a cliff every morning. The
trend draws the full days solid and the step to today dotted, labelled "今日截至 HH:MM".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.i18n import current_lang, t_plain

PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa")
"""Plotly's first colours, as ``px.line`` draws them."""


def partial_label(now: datetime, lang: str | None = None) -> str:
    """今日截至 14:05 / today up to 14:05."""
    return t_plain("app.today_until", lang, at=f"{now:%H:%M}")


def daily_trend(
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[float]]],
    now: datetime,
    *,
    x_title: str = "",
    y_title: str = "",
    height: int = 520,
    lang: str | None = None,
) -> go.Figure:
    """Lines of (name, value per day) over `days`; when the last day is today the step to it is dotted and
    its point labelled as partial. Names are shown by Plotly: escape user text first (``chart_text``)."""
    partial = bool(days) and days[-1] == now.date()
    whole = len(days) - 1 if partial else len(days)
    label = partial_label(now, lang)
    fig = go.Figure()
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=list(days[:whole]),
                y=list(values[:whole]),
                name=name,
                legendgroup=name,
                mode="lines+markers",
                line={"color": colour},
            )
        )
        if partial:
            start = max(whole - 1, 0)
            fig.add_trace(
                go.Scatter(
                    x=list(days[start:]),
                    y=list(values[start:]),
                    name=f"{name} · {label}",
                    legendgroup=name,
                    showlegend=False,
                    mode="lines+markers",
                    line={"color": colour, "dash": "dot"},
                    marker={"symbol": ["circle", "circle-open"][-len(days[start:]) :]},
                )
            )
    if partial:
        top = max((max(v, default=0) for _, v in series), default=0)
        fig.add_annotation(
            x=days[-1], y=top, text=label, showarrow=False, yshift=14, xanchor="right", font={"size": 12}
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 24, "b": 10},
        legend={"orientation": "h"},
        xaxis_title=x_title,
        yaxis_title=y_title,
    )
    return fig


_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}([ T][\d:.]+)?")


def _is_date(value: object) -> bool:
    if isinstance(value, date | pd.Timestamp | np.datetime64):
        return True
    return isinstance(value, str) and _DATE_TEXT.fullmatch(value) is not None


def _date_axes(fig: go.Figure) -> set[str]:
    """The layout names (xaxis, yaxis2 …) of the axes that show dates, judged by the traces' first values."""
    dated = set()
    for trace in fig.data:
        for letter in ("x", "y"):
            values = getattr(trace, letter, None)
            if values is not None and len(values) and _is_date(values[0]):
                anchor = getattr(trace, f"{letter}axis", None) or letter
                dated.add(f"{letter}axis{anchor[1:]}")
    return dated


def dated_axes(fig: go.Figure, lang: str | None = None) -> go.Figure:
    """Give every date axis the language's tick and hover format (``11月08日``): Plotly's own names the
    months in English whatever the page's language."""
    tick, hover = t_plain("chart.date_tick", lang), t_plain("chart.date_hover", lang)
    for axis in _date_axes(fig):
        fig.layout[axis].update(tickformat=tick, hoverformat=hover)
    return fig


def show(fig: go.Figure, *, where: object = st, **kwargs: object) -> None:
    """``st.plotly_chart`` for every chart of the app: dates in the user's language, no mode bar."""
    kwargs.setdefault("config", {"displayModeBar": False})
    kwargs.setdefault("width", "stretch")
    where.plotly_chart(dated_axes(fig, current_lang()), **kwargs)  # type: ignore[attr-defined]
