"""随手拍管理 (admin, command centre): the phone numbers blocked on the public report page (masked), unblocking
them, blocking a number by hand, and the last 30 days' resident reports and spam marks. Every change is
audited by :mod:`dashboard.residents.abuse`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.i18n import t
from dashboard.kernel.policy import may
from dashboard.reporting import kpi, resident_kpi
from dashboard.residents import abuse
from dashboard.ui.common import actor, db_session, page_title
from dashboard.ui.errors import run_action
from dashboard.ui.resident_controls import user_names

FLASH = "residents_admin_flash"

me = actor()
if not may(me, "resident.moderate"):
    st.error(t("app.forbidden"))
    st.stop()
page_title("residents_admin.title", t("residents_admin.caption"))
if message := st.session_state.pop(FLASH, None):
    st.success(message, icon=":material/check_circle:")


def _done(message: str) -> None:
    st.session_state[FLASH] = message
    st.rerun()


with db_session() as s:
    figures = resident_kpi.resident_figures(s, me, kpi.last_days(30))
    blocked = abuse.blocked_phones(s)
    names = user_names(s, {b.blocked_by for b in blocked if b.blocked_by})

c1, c2 = st.columns(2)
c1.metric(t("residents_admin.reported_30"), f"{figures.reported:,}", border=True)
c2.metric(t("residents_admin.spam_30"), f"{figures.spam:,}", border=True)

st.subheader(t("residents_admin.blocked"))
if not blocked:
    st.info(t("residents_admin.none"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("residents_admin.col_phone"): [b.phone_masked for b in blocked],
                t("residents_admin.col_reason"): [b.reason for b in blocked],
                t("residents_admin.col_by"): [names.get(b.blocked_by or 0, "—") for b in blocked],
                t("residents_admin.col_at"): [f"{b.blocked_at:%Y-%m-%d %H:%M}" for b in blocked],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    by_hash = {b.phone_hash: b for b in blocked}
    pick = st.selectbox(
        t("residents_admin.pick"),
        list(by_hash),
        index=None,
        placeholder=t("admin.choose"),
        format_func=lambda h: f"{by_hash[h].phone_masked} · {by_hash[h].reason}",
        key="res_unblock_pick",
    )
    if pick is not None and st.button(t("residents_admin.unblock"), key="res_unblock"):
        ok, _ = run_action(lambda s: abuse.unblock_phone(s, me, phone_hash=pick))
        if ok:
            _done(t("residents_admin.unblocked", phone=by_hash[pick].phone_masked))

st.subheader(t("residents_admin.block_title"))
with st.form("res_block", clear_on_submit=True):
    c1, c2 = st.columns([1, 2])
    phone = c1.text_input(t("residents_admin.phone"), max_chars=20, key="res_block_phone")
    reason = c2.text_input(t("residents_admin.reason"), max_chars=abuse.REASON_MAX, key="res_block_reason")
    submitted = st.form_submit_button(t("residents_admin.block"), icon=":material/phone_disabled:")
if submitted:
    ok, view = run_action(lambda s: abuse.block_phone(s, me, phone=phone, reason=reason))
    if ok:
        _done(t("residents_admin.blocked_done", phone=view.phone_masked))
