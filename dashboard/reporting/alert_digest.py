"""The stored alerts as the page, the wall and the meeting report put them into words and tables.

The alerts themselves are :mod:`dashboard.reporting.warning.store`'s (computed each morning, only read
here). This module adds what several screens share: where and what an alert is about in one line, the
cases behind alerts as rows (in the reader's scope), the wall's few strongest alerts, and the 研判 section
of the meeting report. Plain text only (``t_plain``): the screens escape what they render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from dashboard.i18n import t_plain
from dashboard.kernel.formatting import p_phrase, pct
from dashboard.kernel.policy import may
from dashboard.kernel.privacy import mask_address
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting.warning import store
from dashboard.reporting.warning.store import KIND_ORDER, AlertView
from models import Case, Category, Grid
from models.enums import AlertKind, AlertScope, AlertStatus

CASE_ROWS = 30
"""Most cases listed under one alert (the rest are counted)."""
WALL_ALERTS = 4
"""Alerts on the wall panel: the strongest of each kind in turn."""
REPORT_ALERTS = 12
"""Alerts listed in the meeting report's 研判 section."""

CASE_COLUMNS = ["id", "number", "title", "status", "category", "grid", "reported_at", "due_at", "address"]


def kind_label(kind: AlertKind | str, lang: str | None = None) -> str:
    return t_plain(f"warning.kind_label.{AlertKind(kind).value}", lang)


def where(view: AlertView, lang: str | None = None) -> str:
    """Where the alert is: "网格 幸福路第3网格", "楼栋 幸福路8号3号楼", "来电号码 138****5678" (stored masked)."""
    name = view.scope_name or view.scope_code
    if view.scope_type == AlertScope.case:
        name = view.case_numbers[0] if view.case_numbers else view.scope_code
    return f"{t_plain(f'warning.scope.{view.scope_type.value}', lang)} {name}"


def number(value: float) -> str:
    """A count or an expected count: whole numbers as such, the others with one decimal."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def strength(view: AlertView, lang: str | None = None) -> str:
    """How unusual: the chance of seeing that many by chance (spike, hotspot), the chance of missing the
    deadline (risk), or for a repeat how many cases against its threshold (reworks and reopens of a case)."""
    match view.kind:
        case AlertKind.risk:
            return t_plain("warning.probability", lang, p=pct(view.score, 0))
        case AlertKind.spike | AlertKind.hotspot:
            return t_plain("warning.p_value", lang, p=p_phrase(view.score))
    ev = view.evidence
    if ev.get("rule") == "reworked":
        rework, reopen = int(ev.get("rework", 0)), int(ev.get("reopen", 0))
        return t_plain("warning.evidence.reworks", lang, rework=rework, reopen=reopen)
    text = t_plain(
        "warning.repeat_count",
        lang,
        days=int(ev.get("window_days", 0)),
        observed=number(view.observed),
        threshold=number(float(ev.get("threshold", view.expected))),
    )
    if ev.get("rule") == "building" and "before" in ev:  # against the building's own past year
        text += t_plain("warning.repeat_usual", lang, expected=number(view.expected))
    return text


def headline(view: AlertView, lang: str | None = None) -> str:
    """One line: where, category and observed against expected (or the risk, or the repeat's count)."""
    what = view.category_name or ""
    if view.kind in (AlertKind.spike, AlertKind.hotspot):
        figure = t_plain(
            "warning.observed_expected", lang, observed=number(view.observed), expected=number(view.expected)
        )
    else:
        figure = strength(view, lang)
    return " · ".join(x for x in (where(view, lang), what, figure) if x)


def strongest(views: Sequence[AlertView], limit: int) -> list[AlertView]:
    """Up to `limit` alerts, taking the strongest of each kind in turn (spike, repeat, hotspot, risk), so a
    day of many risk alerts does not hide the one spike. `views` are in the store's order (kind, strength)."""
    by_kind = {k: [v for v in views if v.kind == k] for k in KIND_ORDER}
    out: list[AlertView] = []
    depth = 0
    while len(out) < limit and any(len(v) > depth for v in by_kind.values()):
        out.extend(v[depth] for v in by_kind.values() if len(v) > depth)
        depth += 1
    return out[:limit]


def alert_cases(
    session: Session, actor: Actor, case_ids: Sequence[int], *, lang: str = "zh", limit: int = CASE_ROWS
) -> pd.DataFrame:
    """The cases behind an alert that the actor may open (newest first, at most `limit`): number, title,
    status, category, grid, report and due times and the address masked to the building."""
    ids = list(dict.fromkeys(int(i) for i in case_ids))
    if not ids:
        return pd.DataFrame(columns=CASE_COLUMNS)
    cat = Category.name_zh if lang == "zh" else Category.name_en
    stmt = (
        select(
            Case.id,
            Case.number,
            Case.title,
            Case.status,
            cat.label("category"),
            Grid.name.label("grid"),
            Case.reported_at,
            Case.due_at,
            Case.address,
        )
        .outerjoin(Category, Category.id == Case.category_id)
        .outerjoin(Grid, Grid.id == Case.grid_id)
        .where(Case.id.in_(ids[:500]), case_filter(actor))
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .limit(limit)
    )
    df = pd.DataFrame(session.exec(stmt).all(), columns=CASE_COLUMNS)  # type: ignore[call-overload]
    df["address"] = df["address"].map(mask_address)
    return df


# ---------------------------------------------------------------- the wall


@dataclass(frozen=True)
class WallAlerts:
    """The wall's panel: a few alerts (kind label and one line each) and how many more there are."""

    day: date | None
    items: tuple[tuple[str, str, str], ...]  # (kind, kind label, line)
    more: int


def wall_alerts(session: Session, actor: Actor, *, lang: str = "zh", limit: int = WALL_ALERTS) -> WallAlerts:
    """The strongest open alerts of the newest run that say something new (an ongoing repeat without new
    cases does not), for the wall (one read of the stored table)."""
    day = store.latest_day(session)
    views = [v for v in store.alerts_for(session, actor, day=day, lang=lang) if v.news] if day else []
    shown = strongest(views, limit)
    items = tuple((v.kind.value, kind_label(v.kind, lang), headline(v, lang)) for v in shown)
    return WallAlerts(day, items, len(views) - len(shown))


# ---------------------------------------------------------------- the meeting report


@dataclass
class Outlook:
    """The 研判 section of a meeting report: the newest run's alerts in the report's scope."""

    at: datetime | None  # when the run finished (None: never run)
    open_by_kind: dict[str, int] = field(default_factory=dict)
    # kind, where, category, observed, expected, score, since, status, cases
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OUTLOOK_COLUMNS))
    finding: str = ""


OUTLOOK_COLUMNS = ["kind", "where", "category", "observed", "expected", "score", "since", "status", "cases"]


def _finding(at: datetime | None, open_by_kind: dict[str, int], lang: str) -> str:
    when = f"{at:%Y-%m-%d %H:%M}" if at else "—"
    total = sum(open_by_kind.values())
    if not total:
        return t_plain("warning.report.finding_none", lang, at=when)
    parts = "、".join(
        t_plain("warning.report.part", lang, kind=kind_label(k, lang), n=n)
        for k, n in open_by_kind.items()
        if n
    )
    return t_plain("warning.report.finding", lang, at=when, total=total, parts=parts)


def outlook(session: Session, reader: Actor, *, lang: str = "zh", limit: int = REPORT_ALERTS) -> Outlook:
    """The report's 研判 section for `reader` (the report's scope): open alerts per kind, and the strongest
    alerts of the newest run whatever was done about them (with what was done)."""
    run = store.last_run(session)
    day = store.latest_day(session)
    if not may(reader, "alert.read") or day is None:
        at = run.finished_at if run else None
        return Outlook(at, finding=_finding(at, {}, lang))
    views = store.alerts_for(session, reader, day=day, status="all", lang=lang)
    open_by_kind = {
        k.value: sum(v.kind == k and v.status == AlertStatus.open for v in views) for k in KIND_ORDER
    }
    rows = [
        {
            "kind": kind_label(v.kind, lang),
            "where": where(v, lang),
            "category": v.category_name or "",
            "observed": v.observed if v.kind != AlertKind.risk else None,  # a risk is a probability
            "expected": v.expected if v.kind != AlertKind.risk else None,
            "score": strength(v, lang),
            "since": v.since,
            "status": t_plain(f"warning.status.{v.status.value}", lang),
            "cases": len(v.case_ids),
        }
        for v in strongest(views, limit)
    ]
    at = run.finished_at if run is not None and run.day == day else None
    table = pd.DataFrame(rows, columns=OUTLOOK_COLUMNS)
    return Outlook(at, open_by_kind, table, _finding(at, open_by_kind, lang))
