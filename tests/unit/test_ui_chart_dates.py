"""Issue 19: chart axes and hover labels show dates the Chinese way (11月08日), never Plotly's English
month names ("Nov 8 2026"); axes of numbers and names are left alone."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboard.ui.charts import dated_axes


def test_a_date_axis_gets_the_languages_tick_and_hover_format() -> None:
    frame = pd.DataFrame({"day": [date(2026, 11, 8), date(2026, 11, 9)], "n": [3, 4]})
    fig = dated_axes(px.line(frame, x="day", y="n"), "zh")
    assert fig.layout.xaxis.tickformat == "%m月%d日"
    assert fig.layout.xaxis.hoverformat == "%Y年%m月%d日"
    assert fig.layout.yaxis.tickformat is None, "counts keep Plotly's number format"


def test_timestamps_and_date_strings_count_as_dates_and_names_do_not() -> None:
    fig = go.Figure(go.Scatter(x=pd.to_datetime(["2026-11-08", "2026-11-09"]), y=[1, 2]))
    assert dated_axes(fig, "zh").layout.xaxis.tickformat == "%m月%d日"
    fig = go.Figure(go.Bar(x=[3, 4], y=["2026-11-08 10:00", "2026-11-09 10:00"], orientation="h"))
    assert dated_axes(fig, "zh").layout.yaxis.tickformat == "%m月%d日"
    fig = go.Figure(go.Bar(x=["环境卫生", "物业服务"], y=[datetime(2026, 1, 1).day, 2]))
    assert dated_axes(fig, "zh").layout.xaxis.tickformat is None


def test_english_gets_its_own_format() -> None:
    fig = dated_axes(go.Figure(go.Scatter(x=[date(2026, 11, 8)], y=[1])), "en")
    assert fig.layout.xaxis.tickformat == "%b %-d"
