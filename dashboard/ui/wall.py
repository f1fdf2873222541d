"""Pieces of the command-centre wall screen: its CSS and the HTML of its tiles, side panel and ticker.

The wall is read from five metres away on a 1920×1080 or 3840×2160 screen, unattended for weeks:

- dark colours whatever the app theme (the CSS styles the wall's own containers and hides Streamlit's
  header, toolbar and sidebar while the wall page is shown);
- every size is in viewport units (``vw``/``vh`` with ``clamp``), so a 4K screen shows the same layout
  twice as large, and the whole page fits the screen without scrolling;
- the CSS is a static string; the HTML is built from our own labels and numbers, and the only user text
  (case titles, on the ticker) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import date, datetime

import streamlit as st

from dashboard.i18n import label, t, t_plain
from dashboard.kernel.formatting import pct, points
from dashboard.reporting.kpi import SATISFACTION_TARGET, Figures, rate_change
from dashboard.reporting.wall import TickerItem, WallSnapshot

e = html.escape

WALL_CSS = """
<style>
/* chrome: the wall shows nothing but itself */
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stSidebar"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stStatusWidget"], [data-testid="stSidebarNav"],
footer { display: none !important; }
html, body, .stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  background: #070d18 !important; color: #e8edf2 !important; overflow: hidden !important;
}
[data-testid="stMainBlockContainer"] {
  padding: 1.2vh 1.2vw 0 1.2vw !important; max-width: 100% !important;
}
.st-key-wall { gap: 1.1vh !important; height: 97.5vh; overflow: hidden; }
.st-key-wall [data-testid="stVerticalBlock"] { gap: 1.1vh !important; }
.st-key-wall [data-testid="stHorizontalBlock"] { gap: 1.1vw !important; flex-wrap: nowrap !important; }
.st-key-wall [data-testid="stColumn"] { min-width: 0 !important; }
.st-key-wall [data-testid="stElementContainer"] { margin: 0 !important; }
.st-key-wall_exit { position: fixed; top: 0.4vh; right: 0.6vw; left: auto; width: auto !important; z-index: 100; opacity: 0.35; }
.st-key-wall_exit:hover { opacity: 1; }
.st-key-wall_exit a, .st-key-wall_exit p { color: #9fb3c8 !important; font-size: clamp(24px, 1.25vw, 240px) !important; }

/* header */
.wall-head { display: flex; align-items: baseline; justify-content: space-between;
  border-bottom: 0.25vh solid #c0392b; padding: 0 0.4vw 0.6vh 0.4vw; }
.wall-title { font-size: clamp(24px, 2.1vw, 200px); font-weight: 700; letter-spacing: 0.12vw; color: #f4f6f8; }
.wall-clock { font-size: clamp(24px, 1.45vw, 140px); color: #9fb3c8; font-variant-numeric: tabular-nums; }

/* tiles */
.wall-tiles { display: grid; grid-template-columns: repeat(6, 1fr); gap: 1.1vw; }
.wall-tile { background: #111b2b; border: 1px solid #1f2d42; border-radius: 0.5vw;
  padding: 1.1vh 1vw 1.2vh 1vw; min-width: 0; }
.wall-label { font-size: clamp(24px, 1.3vw, 140px); color: #9fb3c8; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.wall-num { font-size: clamp(64px, 4.3vw, 420px); font-weight: 700; line-height: 1.1; color: #f4f6f8;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.wall-num.bad { color: #ff6b5b; }
.wall-sub { font-size: clamp(24px, 1.25vw, 120px); color: #9fb3c8; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.wall-up { color: #2ecc71; } .wall-down { color: #ff6b5b; } .wall-flat { color: #9fb3c8; }

/* map */
.st-key-wall_map { background: #111b2b; border: 1px solid #1f2d42; border-radius: 0.5vw; padding: 0.6vh 0.6vw; }
.st-key-wall_map [data-testid="stPlotlyChart"] { min-height: 0 !important; }
.st-key-wall_map .modebar-container { display: none !important; }
/* The map is drawn for a 1920×1080 wall (ui/wall_map.py: 480 px high, 24 px text); a 4K wall draws the
   same figure at twice the scale: Streamlit sizes it to half the panel (it measures the element, so the
   zoom sits inside it) and the plot is zoomed ×2. */
@media (min-width: 2600px) {
  .st-key-wall_map [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) {
    width: 50% !important; margin-bottom: 480px !important; }
  .st-key-wall_map .js-plotly-plot { transform: scale(2); transform-origin: 0 0; }
  .st-key-wall_map [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) *,
  .st-key-wall_map [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) {
    overflow: visible !important; }
}
.wall-panel-title { font-size: clamp(24px, 1.3vw, 140px); color: #e8edf2; font-weight: 600; }
.st-key-wall_map .map-legend, .st-key-wall_map .map-legend div, .st-key-wall_map .map-legend span {
  color: #c9d6e3 !important; font-size: clamp(24px, 1.25vw, 90px) !important; }
.st-key-wall_map .map-legend { padding: 0 !important; display: flex; flex-wrap: wrap; align-items: center;
  column-gap: 1.5vw; }
.st-key-wall_map .map-legend > div:first-child > span { display: none; }
.st-key-wall_map .map-legend > div:nth-child(2) { width: 16vw; max-width: 16vw !important;
  margin: 1.8vh 0.5vw 0 0.5vw !important; }
.st-key-wall_map .map-legend > div:nth-child(2) > div:first-child { height: 1.1vh !important; }

/* side panel */
.wall-side { display: flex; flex-direction: column; gap: 1.1vh; height: 100%; }
.wall-card { background: #111b2b; border: 1px solid #1f2d42; border-radius: 0.5vw; padding: 1vh 1vw; }
.wall-rates { display: grid; grid-template-columns: repeat(3, 1fr); gap: 0.8vw; margin-top: 0.6vh; }
.wall-rate-num { font-size: clamp(40px, 2.9vw, 300px); font-weight: 700; line-height: 1.1; color: #f4f6f8;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.wall-spark-img { width: 100%; height: auto; display: block; margin-top: 0.4vh; }
.wall-spark-legend { font-size: clamp(24px, 1.25vw, 100px); color: #9fb3c8; }
.wall-duty { display: flex; align-items: baseline; gap: 1.2vw; }

/* ticker */
.wall-ticker { display: flex; align-items: center; background: #1a0f14; border: 1px solid #5c1f1f;
  border-radius: 0.5vw; height: 6vh; overflow: hidden; }
.wall-ticker-label { flex: none; background: #c0392b; color: #fff; font-weight: 700; height: 100%;
  display: flex; align-items: center; padding: 0 1vw; font-size: clamp(24px, 1.4vw, 140px); }
.wall-ticker-track { flex: 1; overflow: hidden; white-space: nowrap; position: relative; height: 100%;
  display: flex; align-items: center; }
.wall-ticker-move { display: inline-block; white-space: nowrap; padding-left: 100%;
  font-size: clamp(24px, 1.5vw, 150px); color: #f4f6f8; animation: wall-ticker linear infinite; }
.wall-ticker-item { margin-right: 3vw; }
.wall-ticker-tag { color: #9fd3ff; font-weight: 700; margin-right: 0.5vw; }
.wall-ticker-tag.wall-ticker-alert { color: #ffb4a8; }
.wall-ticker-empty { padding-left: 1vw; font-size: clamp(24px, 1.5vw, 150px); color: #9fb3c8; }
@keyframes wall-ticker { from { transform: translateX(0); } to { transform: translateX(-100%); } }
</style>
"""


def inject_css() -> None:
    """Dark, chrome-less, viewport-scaled styling of the wall page (static CSS, no user text)."""
    st.html(WALL_CSS)


def _arrow(change: float | None, lang: str, lower_is_better: bool = False) -> str:
    """▲/▼ with a colour saying whether the change is good; '—' when not comparable."""
    if change is None:
        return '<span class="wall-flat">—</span>'
    if abs(change) < 0.0005:
        return f'<span class="wall-flat">▬ {e(points(change, t_plain("report.points", lang)))}</span>'
    good = (change < 0) if lower_is_better else (change > 0)
    css = "wall-up" if good else "wall-down"
    return f'<span class="{css}">{"▲" if change > 0 else "▼"} {e(points(change, t_plain("report.points", lang)))}</span>'


def _tile(label_text: str, value: str, sub: str = "", bad: bool = False) -> str:
    return (
        f'<div class="wall-tile"><div class="wall-label">{e(label_text)}</div>'
        f'<div class="wall-num{" bad" if bad else ""}">{e(value)}</div>'
        f'<div class="wall-sub">{sub or "&nbsp;"}</div></div>'
    )


def header_html(title: str, at: datetime, lang: str) -> str:
    weekday = t(f"wall.weekday.{at.weekday()}", lang)
    return (
        f'<div class="wall-head" data-updated="{e(at.isoformat())}"><div class="wall-title">{e(title)}</div>'
        f'<div class="wall-clock">{e(f"{at:%Y-%m-%d}")} {e(weekday)} {e(f"{at:%H:%M}")} · '
        f"{e(t('wall.auto_refresh', lang))}</div></div>"
    )


def tiles_html(snap: WallSnapshot, lang: str) -> str:
    """Today's new / accepted / closed, overdue now, this month's on-time closure and satisfaction."""
    month, prev = snap.month, snap.month_previous
    mom = t("wall.mom", lang)
    on_time = rate_change(month.on_time_rate, prev.on_time_rate)
    sat = rate_change(month.satisfaction_rate, prev.satisfaction_rate)
    target = pct(SATISFACTION_TARGET, 0)
    return (
        '<div class="wall-tiles">'
        + "".join(
            [
                _tile(t("wall.today_new", lang), f"{snap.today.reported:,}"),
                _tile(t("wall.today_accepted", lang), f"{snap.today.accepted:,}"),
                _tile(t("wall.today_closed", lang), f"{snap.today.closed:,}"),
                _tile(
                    t("wall.overdue_now", lang),
                    f"{snap.today.overdue_now:,}",
                    e(
                        t_plain(
                            "wall.open_now",
                            lang,
                            in_hand=f"{snap.open.in_hand:,}",
                            awaiting_verification=f"{snap.open.awaiting_verification:,}",
                        )
                    ),
                    bad=snap.today.overdue_now > 0,
                ),
                _tile(
                    t("wall.on_time_month", lang),
                    pct(month.on_time_rate),
                    f"{e(mom)} {_arrow(on_time, lang)}",
                ),
                _tile(  # the target goes in the label: the change line has no room for it at 24 px
                    f"{t_plain('wall.satisfaction_month', lang)} · {t_plain('wall.target', lang, target=target)}",
                    pct(month.satisfaction_rate),
                    f"{e(mom)} {_arrow(sat, lang)}",
                    bad=month.satisfaction_rate is not None and month.satisfaction_rate < SATISFACTION_TARGET,
                ),
            ]
        )
        + "</div>"
    )


def _rate(label_text: str, value: float | None, change: float | None, lang: str) -> str:
    return (
        f'<div><div class="wall-label">{e(label_text)}</div>'
        f'<div class="wall-rate-num">{e(pct(value))}</div>'
        f'<div class="wall-sub">{_arrow(change, lang)}</div></div>'
    )


def hotline_html(now: Figures, before: Figures, lang: str) -> str:
    """The 12345 三率 of this month: response, resolution, satisfaction (hotline cases only), with 环比."""
    return (
        f'<div class="wall-card"><div class="wall-panel-title">{e(t("wall.hotline", lang))}'
        f' <span class="wall-sub">{e(t_plain("wall.hotline_cases", lang, n=f"{now.reported:,}"))}</span></div>'
        '<div class="wall-rates">'
        + _rate(
            t("wall.response_rate", lang),
            now.response_rate,
            rate_change(now.response_rate, before.response_rate),
            lang,
        )
        + _rate(
            t("wall.resolution_rate", lang),
            now.resolution_rate,
            rate_change(now.resolution_rate, before.resolution_rate),
            lang,
        )
        + _rate(
            t("wall.satisfaction_rate", lang),
            now.satisfaction_rate,
            rate_change(now.satisfaction_rate, before.satisfaction_rate),
            lang,
        )
        + "</div></div>"
    )


def _polyline(points: Sequence[tuple[float, float]], colour: str, dotted: bool = False) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dash = ' stroke-dasharray="2 7" stroke-linecap="round"' if dotted else ""
    return f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="3" stroke-linejoin="round"{dash}/>'


def sparkline_img(trend: Sequence[tuple[date, int, int]], lang: str, now: datetime | None = None) -> str:
    """An SVG picture (as a data-URI ``<img>``) of reported (red) and closed (blue) cases per day.

    When the last day is today (`now`'s), its count is only the day so far: the step to it is dotted, its
    points hollow and its date reads 今日 (the legend says up to when, :func:`side_html`).
    st.html strips inline ``<svg>``, so the chart travels as an image; it holds only numbers and dates.
    """
    width, height, pad_x, pad_top, pad_bottom = 560.0, 190.0, 34.0, 34.0, 34.0
    top = max([1, *(max(r, c) for _, r, c in trend)])
    n = max(1, len(trend) - 1)
    partial = now is not None and bool(trend) and trend[-1][0] == now.date()
    whole = len(trend) - 1 if partial else len(trend)

    def xy(i: int, v: int) -> tuple[float, float]:
        return (
            pad_x + (width - 2 * pad_x) * i / n,
            pad_top + (height - pad_top - pad_bottom) * (1 - v / top),
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif">'
    ]
    for idx, colour in ((2, "#5dade2"), (1, "#ff6b5b")):
        points = [xy(i, row[idx]) for i, row in enumerate(trend)]
        parts.append(_polyline(points[:whole], colour))
        if partial:
            parts.append(_polyline(points[max(whole - 1, 0) :], colour, dotted=True))
    for i, (day, reported, closed) in enumerate(trend):
        x, y = xy(i, reported)
        _, y2 = xy(i, closed)
        today = partial and i == len(trend) - 1
        for cy, r, colour in ((y, 4, "#ff6b5b"), (y2, 3, "#5dade2")):
            paint = f'fill="#070d18" stroke="{colour}" stroke-width="2"' if today else f'fill="{colour}"'
            parts.append(f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="{r}" {paint}/>')
        parts.append(
            f'<text x="{x:.1f}" y="{y - 8:.1f}" fill="#f4f6f8" font-size="21" font-weight="700" '
            f'text-anchor="middle">{reported}</text>'
        )
        tick = t_plain("wall.today", lang) if today else f"{day:%m-%d}"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 4:.1f}" fill="#9fb3c8" font-size="21" '
            f'text-anchor="middle">{e(tick)}</text>'
        )
    parts.append("</svg>")
    data = base64.b64encode("".join(parts).encode()).decode()
    return f'<img class="wall-spark-img" alt="{e(t("wall.trend", lang))}" src="data:image/svg+xml;base64,{data}">'


def side_html(snap: WallSnapshot, lang: str) -> str:
    """The side panel: 12345 三率, the 7-day trend and volunteers on duty."""
    trend = (
        f'<div class="wall-card wall-spark"><div class="wall-panel-title">{e(t("wall.trend", lang))} '
        f'<span class="wall-spark-legend"><span style="color:#ff6b5b">━</span> {e(t("wall.reported", lang))} '
        f'<span style="color:#5dade2">━</span> {e(t("wall.closed", lang))} '
        f'<span style="color:#9fb3c8">┈</span> {e(t_plain("app.today_until", lang, at=f"{snap.at:%H:%M}"))}'
        f"</span></div>{sparkline_img(snap.trend, lang, snap.at)}</div>"
    )
    duty = (
        f'<div class="wall-card"><div class="wall-panel-title">{e(t("wall.volunteers", lang))}</div>'
        f'<div class="wall-duty"><div class="wall-rate-num">{snap.on_duty_now:,}</div>'
        f'<div class="wall-sub">{e(t("wall.on_duty_now", lang))} · '
        f"{e(t_plain('wall.served_today', lang, n=f'{snap.served_today:,}'))}</div></div></div>"
    )
    return (
        f'<div class="wall-side">{hotline_html(snap.hotline, snap.hotline_previous, lang)}{trend}{duty}</div>'
    )


def _ticker_item(item: TickerItem, lang: str) -> str:
    what = (
        label("priority", item.priority, lang)
        if item.kind == "urgent"
        else t(f"wall.ticker_kind.{item.kind}", lang)
    )
    css = " wall-ticker-alert" if item.kind in ("urgent", "overdue") else ""
    return (
        f'<span class="wall-ticker-item"><span class="wall-ticker-tag{css}">【{e(f"{item.at:%H:%M}")} {e(what)}】</span>'
        f"{e(item.number)} {e(item.title)} · {e(item.category)} · {e(item.grid)}</span>"
    )


def ticker_html(items: Sequence[TickerItem], lang: str) -> str:
    """A scrolling line of what happened today; every case value is escaped (titles are user text)."""
    head = f'<div class="wall-ticker-label">{e(t("wall.ticker", lang))}</div>'
    if not items:
        return (
            f'<div class="wall-ticker">{head}<div class="wall-ticker-track">'
            f'<span class="wall-ticker-empty">{e(t("wall.ticker_empty", lang))}</span></div></div>'
        )
    body = "".join(_ticker_item(i, lang) for i in items)
    chars = sum(len(i.title) + len(i.number) + len(i.category) + len(i.grid) + 12 for i in items)
    seconds = max(30, round(chars * 0.22))  # about five characters a second, whatever the screen
    return (
        f'<div class="wall-ticker">{head}<div class="wall-ticker-track">'
        f'<div class="wall-ticker-move" style="animation-duration:{seconds}s">{body}</div></div></div>'
    )
