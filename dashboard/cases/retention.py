"""Retention of personal data (DESIGN §9): the reporter's name and phone, and the address below the
building, of every case closed more than N years ago are masked for good with the masks of
:mod:`dashboard.kernel.privacy` (张*明, 138****5678, …3号楼***).

Counts, dates, categories, grids, coordinates and the case timeline stay as they were, so every figure
is unchanged; the case's version is not touched (no user action happened). ``case_events`` is
append-only and holds no reporter data; only `cases` is written. The job is idempotent (a masked value
is never masked again) and goes in batches, each one transaction with its own audit row
(``retention_mask``, with the counts), so it never holds SQLite's write lock for long and a job stopped
half-way finishes on its next run. Run by ``python -m dashboard retention run`` (e.g. nightly after the
backup); the setting ``retention.mask_after_years`` (0: off) gives N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select, update

from dashboard import clock
from dashboard.db import run_unit
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid
from dashboard.kernel.privacy import mask_address, mask_name, mask_phone
from models import Case
from models.enums import CaseStatus

BATCH = 2000
"""Cases per transaction."""
ACTOR_NAME = "retention"
"""Who the audit log names for the job."""
MASK = "*"
_FIELDS = {"reporter_name": mask_name, "reporter_phone": mask_phone, "address": mask_address}


@dataclass
class RetentionResult:
    """What a run masked: cases changed, and per field the values masked."""

    cutoff: datetime
    cases: int = 0
    fields: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_FIELDS, 0))
    batches: int = 0


def cutoff_for(years: int, now: datetime) -> datetime:
    """`years` calendar years before `now` (29 February → 28 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def _unmasked(column: object) -> object:
    return and_(column != "", ~column.contains(MASK))  # type: ignore[attr-defined]


def _candidates(cutoff: datetime, after_id: int) -> object:
    return (
        select(Case.id, Case.reporter_name, Case.reporter_phone, Case.address)
        .where(
            Case.status == CaseStatus.closed.value,
            Case.closed_at < cutoff,  # type: ignore[operator]
            Case.id > after_id,  # type: ignore[operator]
            or_(*(_unmasked(getattr(Case, f)) for f in _FIELDS)),
        )
        .order_by(Case.id)  # type: ignore[arg-type]
        .limit(BATCH)
    )


def _masked(values: dict[str, str]) -> dict[str, str]:
    """The fields of one case that change, masked (a value already masked stays)."""
    out = {}
    for name, mask in _FIELDS.items():
        value = values[name] or ""
        if value and MASK not in value and (new := mask(value)) != value:
            out[name] = new
    return out


def _batch(session: Session, cutoff: datetime, after_id: int) -> tuple[int, dict[str, int]] | None:
    """Mask one batch: (the last case id seen, values masked per field, with ``cases`` changed); None
    when no case is left."""
    rows = session.exec(_candidates(cutoff, after_id)).all()  # type: ignore[call-overload]
    if not rows:
        return None
    counts = dict.fromkeys(_FIELDS, 0)
    changed = 0
    for case_id, name, phone, address in rows:
        new = _masked({"reporter_name": name, "reporter_phone": phone, "address": address})
        if new:
            session.exec(update(Case).where(Case.id == case_id).values(**new))  # type: ignore[call-overload,arg-type]
            changed += 1
            for f in new:
                counts[f] += 1
    if changed:
        audit.record(session, None, "retention_mask", f"closed before {cutoff:%Y-%m-%d}",
                     detail=_detail(changed, counts), actor_name=ACTOR_NAME)  # fmt: skip
    return int(rows[-1][0]), {**counts, "cases": changed}


def _detail(cases: int, counts: dict[str, int]) -> str:
    return f"cases {cases}: names {counts['reporter_name']}, phones {counts['reporter_phone']}, addresses {counts['address']}"


def mask_closed_cases(engine: Engine, years: int, now: datetime | None = None) -> RetentionResult:
    """Mask the reporters' personal data of cases closed more than `years` years before `now`; audited
    (one row per batch that changed cases, one row saying so when nothing was left to mask)."""
    if years < 1:
        raise Invalid("retention.off")
    result = RetentionResult(cutoff_for(years, now or clock.now()))
    after_id = 0
    while (done := run_unit(lambda s, a=after_id: _batch(s, result.cutoff, a), engine)) is not None:
        after_id, counts = done
        result.cases += counts.pop("cases")
        result.batches += 1
        for f, n in counts.items():
            result.fields[f] += n
    if result.cases == 0:
        run_unit(
            lambda s: audit.record(
                s,
                None,
                "retention_mask",
                f"closed before {result.cutoff:%Y-%m-%d}",
                detail=_detail(0, result.fields),
                actor_name=ACTOR_NAME,
            ),  # fmt: skip
            engine,
        )
    return result


def last_run(session: Session) -> tuple[datetime, str] | None:
    """When the job last ran and what it reported (its newest audit row)."""
    from models import AuditLog

    row = session.exec(
        select(AuditLog.at, AuditLog.detail)
        .where(AuditLog.action == "retention_mask")
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None
