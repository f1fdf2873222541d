"""The audit trail search: audit_log and case_events merged, filtered and paginated in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import audit
from dashboard.admin.audit import AuditFilters
from dashboard.db import get_engine
from dashboard.kernel import audit as audit_log
from dashboard.kernel.errors import NotPermitted
from models import CaseEvent
from models.enums import CaseStatus, Role
from tests.factories import World, add_case, build_world

D0 = datetime(2026, 11, 1, 8, 0)


@pytest.fixture
def trail(db_url: str) -> Iterator[tuple[Session, World]]:
    """30 audit rows and 30 case events, interleaved one minute apart, on days 1–3 of November."""
    with Session(get_engine(db_url)) as s:
        w = build_world(s)
        op, admin = w.actors["operator"], w.actors["admin"]
        case = add_case(s, w, 0, D0, CaseStatus.accepted, number="XL20261101-0001")
        for i in range(60):
            at = D0 + timedelta(hours=i)
            if i % 2 == 0:
                with clock.frozen(at):
                    action = ("login", "export", "view_pii")[i % 3]
                    audit_log.record(
                        s,
                        admin if action != "login" else None,
                        action,
                        f"target-{i}",
                        "failed" if i % 4 == 0 and action == "login" else "ok",
                        f"detail {i}",
                        actor_name=None if action != "login" else "t-admin",
                    )
            else:
                s.add(
                    CaseEvent(
                        case_id=case.id,
                        at=at,
                        actor_id=op.id,
                        action="comment",
                        from_status=CaseStatus.accepted,
                        to_status=CaseStatus.accepted,
                        note=f"note {i}",
                    )
                )
        s.commit()
        yield s, w


def test_merged_newest_first_and_paginated(trail) -> None:  # type: ignore[no-untyped-def]
    s, w = trail
    admin = w.actors["admin"]
    seen = []
    page1 = audit.search(s, admin, AuditFilters(), 1, 25)
    assert (page1.total, page1.pages) == (60, 3)
    for n in (1, 2, 3):
        p = audit.search(s, admin, AuditFilters(), n, 25)
        seen += list(p.rows["at"])
        assert p.page == n
    assert len(seen) == 60 and seen == sorted(seen, reverse=True) and len(set(seen)) == 60
    assert audit.search(s, admin, AuditFilters(), 99, 25).page == 3  # clamped
    rows = page1.rows
    case_row = rows[rows["source"] == "case"].iloc[0]
    assert case_row["target"] == "XL20261101-0001" and case_row["user"] == "t-operator"
    assert case_row["detail"].startswith("note") and case_row["display_name"] == "测试operator"
    assert audit.detail_text(case_row, "zh").startswith("已受理 → 已受理 note")


def test_details_read_in_the_users_language(trail) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: statuses by their names, the 回访's satisfaction, a login's kind, never raw values."""
    s, w = trail
    case_id = s.exec(select(CaseEvent.case_id)).first()
    s.add(
        CaseEvent(
            case_id=case_id,
            at=D0 + timedelta(days=5),
            actor_id=w.actors["operator"].id,
            action="follow_up",
            from_status=CaseStatus.verified,
            to_status=None,
            note="电话回访",
            payload='{"satisfaction": "basically"}',
        )
    )
    with clock.frozen(D0 + timedelta(days=5, minutes=1)):
        audit_log.record(s, None, "login", "t-admin", detail="source=local", actor_name="t-admin")
    s.commit()
    rows = audit.search(s, w.actors["admin"], AuditFilters(), 1, 2).rows
    texts = [audit.detail_text(row, "zh") for _, row in rows.iterrows()]
    assert texts == ["来源地址：本机", "已核查 电话回访 · 基本满意"]
    assert audit.detail_text(rows.iloc[1], "en") == "Verified 电话回访 · Basically satisfied"


def test_filters(trail) -> None:  # type: ignore[no-untyped-def]
    s, w = trail
    admin = w.actors["admin"]

    def total(**kw: object) -> int:
        return audit.search(s, admin, AuditFilters(**kw), 1, 10).total  # type: ignore[arg-type]

    assert total(source="case") == 30 and total(source="audit") == 30
    assert total(actions=("comment",)) == 30
    assert total(actions=("login",)) == 10 and total(actions=("login", "export")) == 20
    assert total(outcome="failed") == 5 and total(outcome="failed", source="case") == 0
    assert total(user="t-operator") == 30
    assert total(user="测试admin") == 20  # export + view_pii rows by the admin (logins have no actor id)
    assert total(user="t-admin") == 30  # ... and the failed/ok logins typed as "t-admin"
    assert total(target="XL20261101") == 30 and total(target="target-2") == 6  # 2, 20, 22, 24, 26, 28
    assert total(target="note 7") == 1
    assert total(start=date(2026, 11, 2), end=date(2026, 11, 2)) == 24
    assert total(start=date(2026, 11, 3)) == 20
    assert total(end=date(2026, 10, 31)) == 0


@pytest.mark.parametrize(
    "hostile", ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE audit_log; --", '" OR ""="']
)
def test_hostile_search_text_matches_nothing_and_breaks_nothing(trail, hostile: str) -> None:  # type: ignore[no-untyped-def]
    s, w = trail
    admin = w.actors["admin"]
    for f in (AuditFilters(user=hostile), AuditFilters(target=hostile), AuditFilters(actions=(hostile,))):
        page = audit.search(s, admin, f, 1, 10)
        assert page.total == 0 and page.rows.empty
    assert audit.search(s, admin, AuditFilters(), 1, 10).total == 60  # the table is still there


def test_only_admin_and_leader_read_the_trail(trail) -> None:  # type: ignore[no-untyped-def]
    s, w = trail
    assert audit.search(s, w.actors["leader"], AuditFilters(), 1, 10).total == 60
    for role in set(Role) - {Role.admin, Role.leader}:
        with pytest.raises(NotPermitted):
            audit.search(s, w.actors[str(role)], AuditFilters(), 1, 10)


def test_known_actions(trail) -> None:  # type: ignore[no-untyped-def]
    s, _ = trail
    actions = audit.known_actions(s)
    assert {"login", "export", "view_pii", "comment", "accept", "close"} <= set(actions)
    assert actions == sorted(actions)


def test_every_action_has_a_name_in_both_languages() -> None:
    """Issue 19: the audit page's action filter and column never show a raw action (import_update)."""
    import re
    from pathlib import Path

    from dashboard.cases.workflow import TRANSITIONS
    from dashboard.i18n import has

    root = Path(__file__).resolve().parents[3] / "dashboard"
    call = re.compile(r"audit\.record\(\s*\w+,\s*[\w.]+,\s*\"([a-z_]+)\"")
    written = {m for p in root.rglob("*.py") for m in call.findall(p.read_text(encoding="utf-8"))}
    missing = [
        (lang, action)
        for action in sorted(written | set(TRANSITIONS))
        for lang in ("zh", "en")
        if not has(f"audit_action.{action}", lang)
    ]
    assert not missing, missing
