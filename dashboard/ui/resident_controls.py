"""The case page's part for residents' reports (居民随手拍): how many residents support the case (附议), and
for the roles the policy allows ("resident.moderate"): mark a resident's report as spam (closed as 无效)
and block the phone it came from. Both go through :mod:`dashboard.residents.abuse` (audited there)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import func, select
from sqlmodel import Session

from dashboard.cases.view import CaseDetail
from dashboard.i18n import t
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.residents import abuse
from dashboard.ui.cases import FLASH_KEY
from dashboard.ui.common import db_session
from dashboard.ui.errors import run_action
from models import CaseSupporter, PublicReport, User
from models.enums import CaseSource, CaseStatus


def _facts(case_id: int) -> tuple[int, bool]:
    """The case's 附议 count, and whether its resident reporter left a phone number (to block)."""
    with db_session() as s:
        supporters = s.scalar(select(func.count()).where(CaseSupporter.case_id == case_id)) or 0
        phone = s.scalar(
            select(func.count()).where(
                PublicReport.case_id == case_id, PublicReport.kind == "report", PublicReport.phone_hash != ""
            )
        )
    return int(supporters), bool(phone)


def resident_controls(me: Actor, d: CaseDetail) -> None:
    """Shown for a resident's report, or any case residents supported; the case is already in scope."""
    supporters, has_phone = _facts(d.id)
    from_public = d.source == CaseSource.resident
    if not from_public and not supporters:
        return
    with st.expander(t("moderate.title"), icon=":material/campaign:", expanded=from_public):
        if from_public:
            st.caption(t("moderate.from_public"))
        if supporters:
            st.markdown(t("moderate.supporters", n=supporters))
        if not from_public or not may(me, "resident.moderate"):
            return
        _moderation(me, d, has_phone)


def _moderation(me: Actor, d: CaseDetail, has_phone: bool) -> None:
    waiting = d.status == CaseStatus.reported
    with st.form(f"moderate_{d.id}", clear_on_submit=False, border=False):
        reason = st.text_input(
            t("moderate.reason"),
            max_chars=abuse.REASON_MAX,
            placeholder=t("moderate.reason_hint"),
            key=f"moderate_{d.id}_reason",
        )
        c1, c2 = st.columns(2)
        spam = c1.form_submit_button(
            t("moderate.spam"),
            icon=":material/block:",
            disabled=not waiting,
            key=f"moderate_{d.id}_spam",
            help=t("moderate.spam_help") if waiting else t("moderate.spam_only_new"),
        )
        block = c2.form_submit_button(
            t("moderate.block"),
            icon=":material/phone_disabled:",
            disabled=not has_phone,
            key=f"moderate_{d.id}_block",
            help=t("moderate.block_help") if has_phone else t("moderate.no_phone"),
        )
    if spam:
        ok, ref = run_action(lambda s: abuse.mark_spam(s, me, case_id=d.id, reason=reason))
        if ok:
            st.session_state[FLASH_KEY] = t("moderate.spam_done", number=ref.number)
            st.rerun()
    if block:
        ok, view = run_action(lambda s: abuse.block_reporter(s, me, case_id=d.id, reason=reason))
        if ok:
            st.session_state[FLASH_KEY] = t("moderate.block_done", phone=view.phone_masked)
            st.rerun()


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names of staff accounts by id (who blocked a number)."""
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.display_name).where(User.id.in_(ids))).all()  # type: ignore[call-overload,attr-defined]
    return {int(i): str(n) for i, n in rows}
