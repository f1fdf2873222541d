"""Audit log (admin, leader): logins, failed logins, personal-data views, exports, imports, user changes and
every case transition, filtered and paginated in SQL, exportable (the export is audited too)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin import audit
from dashboard.admin.audit import AuditFilters
from dashboard.admin.audit_words import target_words
from dashboard.i18n import current_lang, has, t
from dashboard.io import exports
from dashboard.kernel.policy import may
from dashboard.ui.common import actor, db_session, page_title

PAGE_SIZE = 50
OUTCOMES = ["ok", "failed", "throttled", "locked", "inactive", "denied", "unmasked"]

me = actor()
if not may(me, "audit.read"):
    st.error(t("audit.forbidden"))
    st.stop()

page_title("audit.title", t("audit.caption"))


# The export runs on another thread, outside the session: it gets the language as a value.
LANG = current_lang()


def _action_label(action: str) -> str:
    return t(f"audit_action.{action}", LANG) if has(f"audit_action.{action}") else action


def _outcome_label(outcome: str) -> str:
    return t(f"audit_outcome.{outcome}", LANG) if has(f"audit_outcome.{outcome}") else outcome


with db_session() as s:
    known = audit.known_actions(s)

today = clock.now().date()
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
actions = c1.multiselect(
    t("audit.actions"), known, key="audit_actions", format_func=_action_label, placeholder=t("app.all")
)
source = c2.selectbox(
    t("audit.source"),
    [None, "audit", "case"],
    key="audit_source",
    format_func=lambda v: t("app.all") if v is None else t(f"audit.source_{v}"),
    placeholder=t("app.all"),
)
start = c3.date_input(t("audit.start"), today - timedelta(days=30), key="audit_start")
end = c4.date_input(t("audit.end"), today, key="audit_end")
c5, c6, c7 = st.columns([2, 2, 1])
user = c5.text_input(t("audit.user"), key="audit_user", help=t("audit.user_help"), max_chars=64)
target = c6.text_input(t("audit.target"), key="audit_target", help=t("audit.target_help"), max_chars=100)
outcome = c7.selectbox(
    t("audit.outcome"),
    [None, *OUTCOMES],
    key="audit_outcome",
    format_func=lambda v: t("app.all") if v is None else _outcome_label(v),
    placeholder=t("app.all"),
)

filters = AuditFilters(
    actions=tuple(actions), user=user, start=start, end=end, target=target, source=source, outcome=outcome
)
# A new filter starts again at page 1.
if st.session_state.get("audit_filters") != filters:
    st.session_state["audit_filters"] = filters
    st.session_state["audit_page"] = 1
page_no = int(st.session_state.get("audit_page", 1))

with db_session() as s:
    result = audit.search(s, me, filters, page_no, PAGE_SIZE)
    NAMES = audit.names_for_details(s, LANG)
st.session_state["audit_page"] = result.page


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("audit.at", LANG): rows["at"],
            t("audit.source", LANG): rows["source"].map(lambda v: t(f"audit.source_{v}", LANG)),
            t("audit.user", LANG): rows["user"],
            t("audit.display_name", LANG): rows["display_name"],
            t("audit.actions", LANG): rows["action"].map(_action_label),
            t("audit.target", LANG): [
                target_words(a, str(v or ""), LANG)
                for a, v in zip(rows["action"], rows["target"], strict=True)
            ],
            t("audit.outcome", LANG): rows["outcome"].map(_outcome_label),
            t("audit.detail", LANG): [audit.detail_text(row, LANG, NAMES) for _, row in rows.iterrows()],
        }
    )


if result.total == 0:
    st.info(t("audit.none"))
else:
    st.dataframe(
        _table(result.rows),
        hide_index=True,
        width="stretch",
        column_config={t("audit.at"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
    )


def _go(delta: int) -> None:
    st.session_state["audit_page"] = max(1, min(result.pages, result.page + delta))


p1, p2, p3, p4 = st.columns([1, 1, 3, 2])
p1.button(
    t("app.prev"),
    key="audit_prev",
    on_click=_go,
    args=(-1,),
    disabled=result.page <= 1,
    icon=":material/chevron_left:",
)
p2.button(
    t("app.next"),
    key="audit_next",
    on_click=_go,
    args=(1,),
    disabled=result.page >= result.pages,
    icon=":material/chevron_right:",
)
p3.caption(t("app.page_of", page=result.page, pages=result.pages, total=f"{result.total:,}"))


def _export() -> bytes:
    """Runs when the download button is pressed: the rows, then the audit row of this export."""
    with db_session() as s:
        rows = audit.search(s, me, filters, 1, audit.EXPORT_LIMIT).rows
        return exports.export_bytes(
            s,
            me,
            "audit_log",
            _table(rows),
            "csv",
            filters={
                "actions": list(filters.actions),
                "user": filters.user,
                "start": filters.start,
                "end": filters.end,
                "target": filters.target,
                "source": filters.source,
                "outcome": filters.outcome,
            },
        )


p4.download_button(
    t("audit.export", n=f"{audit.EXPORT_LIMIT:,}"),
    data=_export,
    file_name=f"audit-{today:%Y%m%d}.csv",
    mime=exports.CSV_MIME,
    key="audit_export",
    icon=":material/download:",
    disabled=result.total == 0,
    on_click="ignore",
)
