"""Ageing colours of a case's SLA clock (DESIGN §5), in Python and in SQL side by side.

The SLA engine (`sla.sla_times`) stores three instants on each case: ``warn_at`` (:data:`WARN_SHARE` of
the limit spent, 25 % left), ``due_at`` (the limit) and ``black_at`` (:data:`BLACK_FACTOR` × the limit:
overdue by the limit again, a 督办 candidate). At `now` the colour is green before ``warn_at``, yellow
from ``warn_at``, red from ``due_at`` and black from ``black_at``.

One rule for a missing instant (imports, old rows), the same in every form: without ``due_at`` there is no
clock and no colour; without ``warn_at`` no yellow (green until due); without ``black_at`` no black (red
once due). A stopped clock (resolved and later) has no colour either.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from sqlalchemy import ColumnElement, and_, case, literal, not_, or_

from models import Case
from models.enums import ACTIVE_STATUSES, Ageing

WARN_SHARE = 0.75
"""Share of the limit after which the clock turns yellow (25 % left)."""
BLACK_FACTOR = 2.0
"""Multiple of the limit after which an overdue case turns black (overdue by the limit again)."""

_RUNNING = [s.value for s in ACTIVE_STATUSES]


def colour_at(
    now: datetime,
    warn_at: datetime | None,
    due_at: datetime | None,
    black_at: datetime | None,
    *,
    closed: bool = False,
) -> Ageing | None:
    """The colour at `now`; None for a stopped clock (`closed`) or one without a due date."""
    if closed or due_at is None:
        return None
    if now >= due_at:
        return Ageing.black if black_at is not None and now >= black_at else Ageing.red
    if warn_at is not None and now >= warn_at:
        return Ageing.yellow
    return Ageing.green


def _shows(wanted: Ageing, now: datetime) -> ColumnElement[bool]:
    """SQL: the stored instants give `wanted` at `now` (never true without a due date: NULL compares)."""
    match wanted:
        case Ageing.green:
            return and_(Case.due_at > now, or_(Case.warn_at.is_(None), Case.warn_at > now))
        case Ageing.yellow:
            return and_(Case.due_at > now, Case.warn_at <= now)
        case Ageing.red:
            return and_(Case.due_at <= now, or_(Case.black_at.is_(None), Case.black_at > now))
        case Ageing.black:
            return and_(Case.due_at <= now, Case.black_at <= now)
        case _:
            assert_never(wanted)


def condition(colour: Ageing | str, now: datetime) -> ColumnElement[bool]:
    """SQL condition: the case's clock is running and shows `colour` at `now` (ValueError if unknown)."""
    return and_(Case.status.in_(_RUNNING), _shows(Ageing(colour), now))


def colour_expr(now: datetime) -> ColumnElement[str | None]:
    """SQL expression: the case's colour at `now`, NULL for a stopped clock or one without a due date."""
    return case(
        (not_(Case.status.in_(_RUNNING)), literal(None)),
        *((_shows(c, now), literal(c.value)) for c in Ageing),
        else_=literal(None),
    )
