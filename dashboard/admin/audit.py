"""The audit trail for its readers: `audit_log` rows (written through :mod:`dashboard.kernel.audit`)
searched together with every case transition (`case_events`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Select, func, literal, or_, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard.admin.audit_words import AuditNames, detail_words
from dashboard.cases.view import event_summary
from dashboard.cases.workflow import TRANSITIONS
from dashboard.i18n import has, t_plain
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from models import AuditLog, Case, CaseEvent, Category, Community, Department, Grid, User

EXPORT_LIMIT = 50_000
"""Most rows one audit export holds (narrow the filters for more)."""


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page filters by; empty values mean "any"."""

    actions: tuple[str, ...] = ()
    user: str = ""  # part of a username or display name (or the name typed at a failed login)
    start: date | None = None
    end: date | None = None  # inclusive
    target: str = ""  # part of the target (username, case number …) or of the detail / note
    source: str | None = None  # "audit" (audit_log) | "case" (case_events)
    outcome: str | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: pd.DataFrame  # COLUMNS; a case event's detail is its note (see detail_text)
    total: int
    page: int
    pages: int


COLUMNS = [
    "source",
    "id",
    "at",
    "actor_id",
    "user",
    "display_name",
    "action",
    "target",
    "outcome",
    "detail",
    "from_status",
    "to_status",
    "payload",
]


def _require_reader(actor: Actor) -> None:
    if not may(actor, "audit.read"):
        raise NotPermitted("audit.forbidden")


def _audit_part(f: AuditFilters) -> tuple[Select, Select] | None:
    """(rows, count) queries on audit_log for the filters, or None when the filters exclude it."""
    if f.source not in (None, "audit"):
        return None
    user = aliased(User)
    conds: list[ColumnElement[bool]] = []
    if f.actions:
        conds.append(AuditLog.action.in_(f.actions))
    if f.user.strip():
        u = f.user.strip()
        conds.append(
            or_(
                user.username.icontains(u, autoescape=True),
                user.display_name.icontains(u, autoescape=True),
                AuditLog.actor_name.icontains(u, autoescape=True),
            )
        )
    if f.start:
        conds.append(AuditLog.at >= datetime.combine(f.start, time()))
    if f.end:
        conds.append(AuditLog.at < datetime.combine(f.end + timedelta(days=1), time()))
    if f.target.strip():
        t = f.target.strip()
        conds.append(
            or_(AuditLog.target.icontains(t, autoescape=True), AuditLog.detail.icontains(t, autoescape=True))
        )
    if f.outcome:
        conds.append(AuditLog.outcome == f.outcome)
    rows = (
        select(
            literal("audit").label("source"),
            AuditLog.id.label("id"),
            AuditLog.at.label("at"),
            AuditLog.actor_id.label("actor_id"),
            func.coalesce(user.username, AuditLog.actor_name).label("user"),
            func.coalesce(user.display_name, "").label("display_name"),
            AuditLog.action.label("action"),
            AuditLog.target.label("target"),
            AuditLog.outcome.label("outcome"),
            AuditLog.detail.label("detail"),
            literal("").label("from_status"),
            literal("").label("to_status"),
            literal("{}").label("payload"),
        )
        .select_from(AuditLog)
        .outerjoin(user, user.id == AuditLog.actor_id)
        .where(*conds)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
    )
    count = select(func.count()).select_from(AuditLog)
    if f.user.strip():
        count = count.outerjoin(user, user.id == AuditLog.actor_id)
    return rows, count.where(*conds)


def _case_part(f: AuditFilters) -> tuple[Select, Select] | None:
    """(rows, count) queries on case_events (with the case number as target), or None when excluded."""
    if f.source not in (None, "case") or (f.outcome and f.outcome != "ok"):
        return None
    user = aliased(User)
    conds: list[ColumnElement[bool]] = []
    if f.actions:
        conds.append(CaseEvent.action.in_(f.actions))
    if f.user.strip():
        u = f.user.strip()
        conds.append(
            or_(user.username.icontains(u, autoescape=True), user.display_name.icontains(u, autoescape=True))
        )
    if f.start:
        conds.append(CaseEvent.at >= datetime.combine(f.start, time()))
    if f.end:
        conds.append(CaseEvent.at < datetime.combine(f.end + timedelta(days=1), time()))
    if f.target.strip():
        t = f.target.strip()
        conds.append(
            or_(Case.number.icontains(t, autoescape=True), CaseEvent.note.icontains(t, autoescape=True))
        )
    rows = (
        select(
            literal("case").label("source"),
            CaseEvent.id.label("id"),
            CaseEvent.at.label("at"),
            CaseEvent.actor_id.label("actor_id"),
            func.coalesce(user.username, "").label("user"),
            func.coalesce(user.display_name, "").label("display_name"),
            CaseEvent.action.label("action"),
            Case.number.label("target"),
            literal("ok").label("outcome"),
            CaseEvent.note.label("detail"),
            func.coalesce(CaseEvent.from_status, "").label("from_status"),
            func.coalesce(CaseEvent.to_status, "").label("to_status"),
            CaseEvent.payload.label("payload"),
        )
        .select_from(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .outerjoin(user, user.id == CaseEvent.actor_id)
        .where(*conds)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    # Count with only the joins the filters need: case_events grows to millions of rows.
    count = select(func.count()).select_from(CaseEvent)
    if f.target.strip():
        count = count.join(Case, Case.id == CaseEvent.case_id)
    if f.user.strip():
        count = count.outerjoin(user, user.id == CaseEvent.actor_id)
    return rows, count.where(*conds)


def search(
    session: Session, actor: Actor, filters: AuditFilters, page: int = 1, page_size: int = 50
) -> AuditPage:
    """One page of the merged audit trail (audit_log and case_events), newest first, paginated in SQL.

    Each source is limited to its first ``page * page_size`` rows (by its own time index) before the two are
    merged, so the database never sorts more than that. All user text goes in as bound parameters.
    """
    _require_reader(actor)
    page_size = max(1, min(page_size, EXPORT_LIMIT))
    parts = [p for p in (_audit_part(filters), _case_part(filters)) if p is not None]
    if not parts:
        return AuditPage(pd.DataFrame(columns=COLUMNS), 0, 1, 1)
    total = sum(session.exec(count).one() for _, count in parts)  # type: ignore[call-overload]
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    depth = page * page_size
    limited = [select(*rows.limit(depth).subquery().c) for rows, _ in parts]
    merged = (limited[0] if len(limited) == 1 else union_all(*limited)).subquery()
    stmt = (
        select(*merged.c)
        .order_by(merged.c.at.desc(), merged.c.source, merged.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    found = session.exec(stmt).all()  # type: ignore[call-overload]
    return AuditPage(pd.DataFrame([tuple(r) for r in found], columns=COLUMNS), total, page, pages)


def known_actions(session: Session) -> list[str]:
    """Every action the audit page can filter by: those in audit_log and every case-event action."""
    logged = session.exec(select(AuditLog.action).distinct()).all()
    return sorted(set(logged) | set(TRANSITIONS))


def names_for_details(session: Session, lang: str | None = None) -> AuditNames:
    """The names the details of audit rows refer to by id (communities, grids, departments, users,
    categories in `lang`), read once per page."""
    english = lang == "en"
    return AuditNames(
        communities=dict(session.exec(select(Community.id, Community.name)).all()),
        grids=dict(session.exec(select(Grid.id, Grid.code + " " + Grid.name)).all()),
        departments=dict(session.exec(select(Department.id, Department.name)).all()),
        users=dict(session.exec(select(User.id, User.display_name)).all()),
        categories={
            i: (en if english and en else zh)
            for i, zh, en in session.exec(select(Category.id, Category.name_zh, Category.name_en))
        },
        category_codes={
            c: (zh, en)
            for c, zh, en in session.exec(select(Category.code, Category.name_zh, Category.name_en))
        },
    )


def detail_text(row: pd.Series, lang: str | None = None, names: AuditNames | None = None) -> str:
    """A row's detail as its reader reads it: a case event's statuses by name, its note and what it recorded
    (the 回访's satisfaction, the assignee …); a login's kind of account; every other detail in words
    (:func:`dashboard.admin.audit_words.detail_words`, ids named from `names`)."""
    if row["source"] == "case":
        moved = [v for v in (row["from_status"], row["to_status"]) if v] if row["to_status"] else []
        # an event that changes no status (回访, 延期 …) names the status it was recorded in
        moved = moved or ([row["from_status"]] if row["from_status"] else [])
        statuses = " → ".join(t_plain(f"enum.status.{v}", lang) for v in moved)
        try:
            payload = json.loads(row["payload"] or "{}")
        except ValueError:
            payload = {}
        summary = event_summary(row["action"], payload if isinstance(payload, dict) else {}, lang)
        text = f"{statuses} {row['detail']}".rstrip()
        return f"{text} · {summary}" if summary else text
    if row["action"] == "login":
        return "；".join(_login_part(part, lang) for part in str(row["detail"] or "").split("; "))
    return detail_words(row["action"], str(row["detail"] or ""), lang, names)


def _login_part(part: str, lang: str | None) -> str:
    """One part of a login's detail (dashboard.admin.auth): ``source=ADDRESS``, ``unknown user``, ``sso``."""
    if part.startswith("source="):
        address = part.removeprefix("source=")
        shown = t_plain("audit_detail.local", lang) if address == "local" else address
        return t_plain("audit_detail.source", lang, address=shown)
    key = f"audit_detail.{part.replace(' ', '_')}"
    return t_plain(key, lang) if has(key) else part
