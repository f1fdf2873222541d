"""The residents' figures (居民随手拍, issue 23), beside the case figures of :mod:`dashboard.reporting.kpi`:
one definition each, used by the overview, the meeting report and the map.

- 居民随手拍 reported = cases from the public pages (source ``resident``) by `reported_at`, merged
  duplicates left out (as kpi's "reported": rejected ones, spam included, count as what came in)
- 附议 supporters = residents' reports added to an existing case as +1, by their time
- 居民自评 rated = ratings residents gave on the public pages (评价), by `rated_at`; ``counted`` of them
  became the case's 回访 result (staff had not followed up), and so are inside kpi's 满意率
- 居民自评满意率 self-rating rate = (满意 + 基本满意) ÷ rated
- 无效 spam = residents' reports an operator marked as spam, by when

Everything is limited to the actor's scope through the case the row belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlmodel import Session

from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting.kpi import Period, not_duplicate
from models import Case, CaseSupporter, PublicReport
from models.enums import CaseSource, Satisfaction

ResidentGroupBy = Literal["community", "grid"]
_GOOD = (Satisfaction.satisfied.value, Satisfaction.basically.value)


@dataclass
class ResidentFigures:
    """Counts of the residents' channel over a period; the rate is None without a rating."""

    reported: int = 0
    supporters: int = 0
    rated: int = 0
    rated_satisfied: int = 0
    counted: int = 0
    spam: int = 0

    @property
    def self_rating_rate(self) -> float | None:
        """居民自评满意率 = (满意 + 基本满意) ÷ ratings residents gave."""
        return self.rated_satisfied / self.rated if self.rated else None


RESIDENT_COLUMNS = [f.name for f in fields(ResidentFigures)]


def _key(by: ResidentGroupBy | None) -> ColumnElement:
    match by:
        case None:
            return literal(None)
        case "community":
            return Case.community_id
        case "grid":
            return Case.grid_id
    raise ValueError(f"unknown grouping {by}")


def _n(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((cond, 1), else_=0))


def _in(column: ColumnElement, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def resident_figures_by(
    session: Session, actor: Actor, period: Period, by: ResidentGroupBy | None = None
) -> pd.DataFrame:
    """:class:`ResidentFigures` counts per community or grid (``key`` column; one row when `by` is None)
    and ``self_rating_rate``. Groups without any count do not appear."""
    key = _key(by).label("key")
    scope = [case_filter(actor), not_duplicate()]
    queries = [
        select(key, func.count().label("reported")).where(
            Case.source == CaseSource.resident.value, _in(Case.reported_at, period), *scope
        ),
        select(key, func.count().label("supporters"))
        .select_from(CaseSupporter)
        .join(Case, Case.id == CaseSupporter.case_id)
        .where(_in(CaseSupporter.at, period), *scope),
        select(
            key,
            func.count().label("rated"),
            _n(PublicReport.rating.in_(_GOOD)).label("rated_satisfied"),
            _n(PublicReport.rating_counted.is_(True)).label("counted"),
        )
        .select_from(PublicReport)
        .join(Case, Case.id == PublicReport.case_id)
        .where(PublicReport.rating.is_not(None), _in(PublicReport.rated_at, period), *scope),
        select(key, func.count().label("spam"))
        .select_from(PublicReport)
        .join(Case, Case.id == PublicReport.case_id)
        .where(PublicReport.kind == "report", _in(PublicReport.spam_at, period), *scope),
    ]
    frames = []
    for stmt in queries:
        if by is not None:
            stmt = stmt.group_by(_key(by))
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        names = [c.name for c in stmt.selected_columns]
        frames.append(pd.DataFrame(rows, columns=names).set_index("key"))
    df = pd.concat(frames, axis=1).fillna(0)
    if by is None:
        df = df.iloc[[0]] if not df.empty else pd.DataFrame(index=pd.Index([None], name="key"))
    df = df.reindex(columns=RESIDENT_COLUMNS, fill_value=0).fillna(0).astype("int64")
    df = df.groupby(level=0).sum() if by is not None else df
    df["self_rating_rate"] = (df["rated_satisfied"] / df["rated"].where(df["rated"] > 0)).astype("float64")
    df.index.name = "key"
    return df.reset_index()


def resident_figures(session: Session, actor: Actor, period: Period) -> ResidentFigures:
    """The residents' figures of one period in the actor's scope."""
    row = resident_figures_by(session, actor, period).iloc[0]
    return ResidentFigures(**{name: int(row[name]) for name in RESIDENT_COLUMNS})
