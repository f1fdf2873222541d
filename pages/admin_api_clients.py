"""系统对接 · API 客户端 (admin): the systems that use the Open311 API. Create one (its key shown once), set
what it may read and submit, for which communities, whether it sees personal data, its rate limit and
status callback URL; rotate its key, revoke it; see the status callbacks that could not be delivered and
retry them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin.changes import recent_changes
from dashboard.api import client_admin
from dashboard.api.callbacks import ERROR_KINDS, MAX_ATTEMPTS
from dashboard.api.client_admin import RATE_UNITS, ClientInput, IssuedKey, rate_parts, rate_text
from dashboard.i18n import t, t_plain
from dashboard.kernel.formatting import moment
from dashboard.territory.lookups import communities
from dashboard.ui.admin import AdminPage
from dashboard.ui.common import db_session

PAGE = AdminPage("api_clients.title", t("api_clients.caption"), "api_clients_flash")
me = PAGE.me
ISSUED = "api_clients_issued"


def _issued(message_key: str) -> Callable[[IssuedKey], str]:
    """The message after a key was issued; keeps the key for the next run, which shows it once."""

    def message(issued: IssuedKey) -> str:
        st.session_state[ISSUED] = issued
        return t(message_key, name=issued.name)

    return message


shown: IssuedKey | None = st.session_state.pop(ISSUED, None)
if shown is not None:
    st.warning(t("api_clients.key_once"), icon=":material/key:")
    st.caption(t("api_clients.key_label", name=shown.name))
    st.code(shown.key, language=None)
    st.caption(t("api_clients.secret_label"))
    st.code(shown.callback_secret, language=None)

with db_session() as s:
    table = client_admin.client_table(s, me)
    community_table = communities(s)
    failures = client_admin.failed_callbacks(s, me)

community_names = {
    int(i): str(n) for i, n in zip(community_table["id"], community_table["name"], strict=True)
}
now = clock.now()


def _state(row: pd.Series) -> str:
    if pd.notna(row["revoked_at"]):
        return t_plain("api_clients.state_revoked")
    if pd.notna(row["expires_at"]) and row["expires_at"] <= now:
        return t_plain("api_clients.state_expired")
    return t_plain("api_clients.state_active")


def _rate(rate: str) -> str:
    count, unit = rate_parts(rate)
    return t_plain("api_clients.rate_shown", n=count, unit=t_plain(f"api_clients.unit.{unit}"))


def _scope(row: pd.Series) -> str:
    parts = [("can_read", "api_clients.scope_read"), ("can_write", "api_clients.scope_write")]
    return "、".join(t_plain(key) for column, key in parts if row[column])


if table.empty:
    st.info(t("api_clients.nothing"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("api_clients.col_name"): table["name"],
                t("api_clients.col_prefix"): [f"g311_{p}…" for p in table["key_prefix"]],
                t("api_clients.col_state"): [_state(r) for _, r in table.iterrows()],
                t("api_clients.col_scope"): [_scope(r) for _, r in table.iterrows()],
                t("api_clients.col_community"): [
                    c if isinstance(c, str) else t_plain("api_clients.all_communities")
                    for c in table["community"]
                ],
                t("api_clients.col_pii"): [
                    t_plain("api_clients.yes" if v else "api_clients.no") for v in table["sees_personal_data"]
                ],
                t("api_clients.col_rate"): [_rate(r) for r in table["rate_limit"]],
                t("api_clients.col_callback"): table["callback_url"],
                t("api_clients.col_last_used"): [
                    moment(v, missing=t_plain("api_clients.never")) for v in table["last_used_at"]
                ],
                t("api_clients.col_created"): [moment(v) for v in table["created_at"]],
                t("api_clients.col_pending"): table["pending"],
                t("api_clients.col_failed"): table["failed"],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _fields(prefix: str, row: pd.Series | None) -> ClientInput:
    """The form's inputs (inside an st.form), prefilled from `row` when editing."""
    name = st.text_input(
        t("api_clients.field_name"),
        row["name"] if row is not None else "",
        max_chars=64,
        key=f"{prefix}_name",
    )
    c1, c2, c3 = st.columns(3)
    can_read = c1.checkbox(
        t("api_clients.field_read"), bool(row["can_read"]) if row is not None else True, key=f"{prefix}_read"
    )
    can_write = c2.checkbox(
        t("api_clients.field_write"),
        bool(row["can_write"]) if row is not None else False,
        key=f"{prefix}_write",
    )
    pii = c3.checkbox(
        t("api_clients.field_pii"),
        bool(row["sees_personal_data"]) if row is not None else False,
        key=f"{prefix}_pii",
    )
    current = [int(i) for i in row["community_ids"]] if row is not None else []
    limited = st.radio(
        t("api_clients.field_scope"),
        [False, True],
        index=int(bool(current)),
        format_func=lambda v: t_plain("api_clients.scope_some" if v else "api_clients.all_communities"),
        horizontal=True,
        key=f"{prefix}_limited",
    )
    chosen = st.multiselect(
        t("api_clients.field_community"),
        list(community_names),
        default=[i for i in current if i in community_names],
        format_func=community_names.__getitem__,
        placeholder=t_plain("api_clients.choose"),
        help=t("api_clients.community_help"),
        key=f"{prefix}_community",
    )
    count, unit = (
        rate_parts(row["rate_limit"]) if row is not None else rate_parts(client_admin.DEFAULT_CLIENT_LIMIT)
    )
    c1, c2, c3 = st.columns([1, 1, 2])
    count = c1.number_input(
        t("api_clients.field_rate"),
        min_value=1,
        max_value=1_000_000,
        value=count,
        step=10,
        key=f"{prefix}_rate",
    )
    unit = c2.selectbox(
        t("api_clients.field_rate_unit"),
        RATE_UNITS,
        index=RATE_UNITS.index(unit),
        format_func=lambda u: t_plain(f"api_clients.unit.{u}"),
        key=f"{prefix}_unit",
    )
    expires = row["expires_at"] if row is not None and pd.notna(row["expires_at"]) else None
    expires_on: date | None = c3.date_input(
        t("api_clients.field_expires"),
        value=expires.date() if expires is not None else None,
        key=f"{prefix}_expires",
    )
    callback = st.text_input(
        t("api_clients.field_callback"),
        row["callback_url"] if row is not None else "",
        max_chars=300,
        help=t("api_clients.callback_help"),
        placeholder="https://",
        key=f"{prefix}_callback",
    )
    note = st.text_input(
        t("api_clients.field_note"),
        row["note"] if row is not None else "",
        max_chars=200,
        key=f"{prefix}_note",
    )
    return ClientInput(
        name,
        can_read,
        can_write,
        tuple(chosen) if limited else None,
        pii,
        rate_text(int(count), unit),
        callback,
        expires_on,
        note,
    )


tab_edit, tab_new, tab_failed, tab_log = st.tabs(
    [
        t("api_clients.tab_edit"),
        t("api_clients.tab_new"),
        t("api_clients.tab_failed"),
        t("api_clients.tab_log"),
    ]
)

with tab_edit:
    by_id = {int(r["id"]): r for _, r in table.iterrows()}
    picked = st.selectbox(
        t("api_clients.pick"),
        list(by_id),
        index=None,
        placeholder=t_plain("api_clients.choose"),
        format_func=lambda i: f"{by_id[i]['name']} · {_state(by_id[i])}",
        key="api_client_pick",
    )
    if picked is not None:
        row = by_id[picked]
        with st.form(f"api_client_form_{picked}"):
            data = _fields(f"api_client_{picked}", row)
            submitted = st.form_submit_button(
                t("api_clients.save"), type="primary", key=f"api_client_{picked}_save"
            )
        if submitted:
            PAGE.save(
                lambda s: client_admin.update_client(s, me, picked, data),
                t("api_clients.saved", name=data.name.strip()),
            )
        if pd.isna(row["revoked_at"]):
            c1, c2 = st.columns(2)
            if c1.button(
                t("api_clients.rotate"), help=t("api_clients.rotate_help"), key=f"api_client_{picked}_rotate"
            ):
                PAGE.attempt(lambda s: client_admin.rotate_key(s, me, picked), _issued("api_clients.rotated"))
            confirm = c2.checkbox(t("api_clients.revoke_confirm"), key=f"api_client_{picked}_confirm")
            if c2.button(
                t("api_clients.revoke"),
                disabled=not confirm,
                help=t("api_clients.revoke_help"),
                key=f"api_client_{picked}_revoke",
            ):
                PAGE.attempt(
                    lambda s: client_admin.revoke_client(s, me, picked),
                    t("api_clients.revoked_msg", name=row["name"]),
                )

with tab_new:
    with st.form("api_client_new_form"):
        new_data = _fields("api_client_new", None)
        created = st.form_submit_button(t("api_clients.create"), type="primary", key="api_client_new_save")
    if created:
        PAGE.attempt(lambda s: client_admin.create_client(s, me, new_data), _issued("api_clients.created"))


def _error(text: str) -> str:
    kind, _, detail = text.partition(":")
    if kind == "http":
        return t_plain("api_clients.error.http", code=detail)
    return t_plain(f"api_clients.error.{kind}") if kind in ERROR_KINDS else text


with tab_failed:
    st.caption(t("api_clients.failed_caption", n=MAX_ATTEMPTS))
    if failures.empty:
        st.info(t("api_clients.no_failures"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("api_clients.col_client"): failures["client"],
                    t("api_clients.col_case"): failures["case"],
                    t("api_clients.col_attempts"): failures["attempts"],
                    t("api_clients.col_error"): [_error(e) for e in failures["last_error"]],
                    t("api_clients.col_state"): [
                        t_plain("api_clients.gave_up") if pd.notna(v) else t_plain("api_clients.waiting")
                        for v in failures["failed_at"]
                    ],
                    t("api_clients.col_next"): [
                        moment(n) if pd.isna(f) else moment(None)
                        for n, f in zip(failures["next_attempt_at"], failures["failed_at"], strict=True)
                    ],
                    t("api_clients.col_gave_up"): [moment(f) for f in failures["failed_at"]],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        labels = {
            int(r["id"]): f"{r['case']} · {r['client']} · {_error(r['last_error'])}"
            for _, r in failures.iterrows()
        }
        retry_id = st.selectbox(
            t("api_clients.retry_pick"),
            list(labels),
            index=None,
            placeholder=t_plain("api_clients.choose"),
            format_func=labels.__getitem__,
            key="api_callback_pick",
        )
        if st.button(t("api_clients.retry"), disabled=retry_id is None, key="api_callback_retry"):
            PAGE.attempt(lambda s: client_admin.retry_callback(s, me, retry_id), t("api_clients.retried"))

_FIELD_LABELS = {
    "name": "api_clients.field_name",
    "can_read": "api_clients.field_read",
    "can_write": "api_clients.field_write",
    "community_ids": "api_clients.field_community",
    "sees_personal_data": "api_clients.col_pii",
    "rate_limit": "api_clients.col_rate",
    "callback_url": "api_clients.field_callback",
    "expires_at": "api_clients.field_expires",
    "note": "api_clients.field_note",
}
"""The settings an edit's audit detail names (``{field: [old, new]}``), by their labels on this page."""


def _changed(action: str, detail: str) -> str:
    """What an edit changed, by the fields' labels (the audit page keeps the values)."""
    if action != "api_client_update":
        return ""
    try:
        fields = json.loads(detail)
    except ValueError:
        return ""
    return "、".join(t_plain(_FIELD_LABELS[f]) for f in fields if f in _FIELD_LABELS)


with tab_log:
    with db_session() as s:
        log = recent_changes(s, "api_c")
    if log.empty:
        st.info(t("app.nothing"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("admin.at"): [moment(v) for v in log["at"]],
                    t("admin.actor"): log["actor"],
                    t("admin.action"): [t_plain(f"audit_action.{a}") for a in log["action"]],
                    t("admin.target"): log["target"],
                    t("admin.detail"): [
                        _changed(a, d) for a, d in zip(log["action"], log["detail"], strict=True)
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
        )
