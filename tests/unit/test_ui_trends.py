"""Issue 19: today's partial day in the 30-day (overview) and 7-day (wall) trends is drawn dotted and labelled
"今日截至 HH:MM", not as a cliff; a trend that ends before today is drawn solid."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta

from dashboard.ui.charts import daily_trend
from dashboard.ui.wall import sparkline_img

NOW = datetime(2026, 11, 20, 9, 5)


def _days(last: date, n: int) -> list[date]:
    return [last - timedelta(days=n - 1 - i) for i in range(n)]


def test_daily_trend_draws_today_dotted_and_labelled() -> None:
    days = _days(NOW.date(), 30)
    fig = daily_trend(days, [("上报", [10] * 29 + [2]), ("结案", [9] * 29 + [1])], NOW, lang="zh")
    solid = [tr for tr in fig.data if tr.line.dash is None]
    dotted = [tr for tr in fig.data if tr.line.dash == "dot"]
    assert len(solid) == len(dotted) == 2
    for tr in solid:
        assert list(tr.x)[-1] == days[-2], "full days only"
    for tr in dotted:
        assert list(tr.x) == days[-2:] and tr.showlegend is False
        assert "今日截至 09:05" in tr.name
    assert [a.text for a in fig.layout.annotations] == ["今日截至 09:05"]


def test_daily_trend_of_past_days_is_solid() -> None:
    days = _days(NOW.date() - timedelta(days=1), 30)
    fig = daily_trend(days, [("上报", [10] * 30)], NOW, lang="zh")
    assert [tr.line.dash for tr in fig.data] == [None]
    assert not fig.layout.annotations


def _svg(img: str) -> str:
    data = re.search(r"base64,([^\"]+)", img).group(1)  # type: ignore[union-attr]
    return base64.b64decode(data).decode()


def test_wall_sparkline_marks_today_as_partial() -> None:
    trend = [(d, 10, 9) for d in _days(NOW.date() - timedelta(days=1), 6)] + [(NOW.date(), 2, 1)]
    svg = _svg(sparkline_img(trend, "zh", NOW))
    assert svg.count("stroke-dasharray") == 2  # one dotted step per series
    assert "今日" in svg and f"{NOW:%m-%d}" not in svg
    past = _svg(sparkline_img(trend[:-1], "zh", NOW))
    assert "stroke-dasharray" not in past and "今日" not in past
