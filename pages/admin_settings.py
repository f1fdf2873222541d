"""System settings (admin): wall refresh, blind-spot window, map style, session idle time, and display links
for wall screens. Values live in the `settings` table; defaults come from configuration."""

from __future__ import annotations

from urllib.parse import urlsplit

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard.admin import settings
from dashboard.i18n import t
from dashboard.reporting import display_links as display
from dashboard.ui.admin import AdminPage
from dashboard.ui.common import db_session
from dashboard.ui.errors import run_action

PAGE = AdminPage("admin.settings", t("settings.caption"), "admin_set_flash")
me = PAGE.me


def _done(message: str) -> None:
    settings.clear_cache()
    PAGE.done(message)


with db_session() as s:
    current = settings.all_settings(s)
    stored = {key: not settings.is_default(s, key) for key in settings.SPECS}

with st.form("settings_form"):
    entered: dict[str, object] = {}
    for key, spec in settings.SPECS.items():
        help_text = t("settings.default_is", value=settings.default(key))
        if spec.kind is int:
            entered[key] = st.number_input(
                t(f"settings.{key}"),
                value=int(current[key]),
                step=1,
                key=f"set_{key}",
                help=t("settings.range", minimum=spec.minimum, maximum=spec.maximum) + " " + help_text,
            )
        else:
            entered[key] = st.text_input(
                t(f"settings.{key}"),
                value=str(current[key]),
                max_chars=spec.max_length,
                key=f"set_{key}",
                help=help_text,
            )
        if stored[key]:
            st.caption(t("settings.custom", value=settings.default(key)))
    saved = st.form_submit_button(t("admin.save"), type="primary", key="set_save")
if saved:
    ok, changed = run_action(  # one transaction: a bad value saves none of them
        lambda s: [key for key, value in entered.items() if settings.set_setting(s, me, key, value)]
    )
    if ok:
        if changed:
            _done(t("settings.saved", keys="、".join(t(f"settings.{k}") for k in changed)))
        st.info(t("admin.unchanged"))


def _reset_all(s: Session) -> None:
    for key in settings.SPECS:
        settings.reset_setting(s, me, key)


if any(stored.values()) and st.button(t("settings.reset"), key="set_reset", help=t("settings.reset_help")):
    ok, _ = run_action(_reset_all)
    if ok:
        _done(t("settings.reset_done"))
st.caption(t("settings.applies"))

st.subheader(t("settings.display_links"))
st.caption(t("settings.display_help"))
token = st.session_state.pop("admin_display_token", None)
if token:
    parts = urlsplit(st.context.url or "")
    base = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    st.success(t("settings.display_created"))
    st.code(f"{base}/?display={token}", language=None)
    st.warning(t("settings.display_once"))

with st.form("display_form", clear_on_submit=True):
    link_name = st.text_input(
        t("settings.display_name"),
        max_chars=64,
        key="display_name",
        placeholder=t("settings.display_name_hint"),
    )
    create = st.form_submit_button(t("settings.display_create"), key="display_create")
if create:
    ok, new_token = run_action(display.create_link, me, link_name)
    if ok:
        st.session_state["admin_display_token"] = new_token
        st.rerun()

with db_session() as s:
    links = display.list_links(s)
if not links:
    st.info(t("settings.display_none"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("settings.display_name"): [link.name for link in links],
                t("settings.display_created_at"): [link.created_at for link in links],
                t("settings.display_last_seen"): [link.last_seen_at for link in links],
                t("settings.display_status"): [
                    t("settings.display_revoked") if link.revoked_at else t("settings.display_live")
                    for link in links
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    live = {link.id: link for link in links if link.revoked_at is None}
    if live:
        pick = st.selectbox(
            t("settings.display_revoke_pick"),
            list(live),
            index=None,
            placeholder=t("admin.choose"),
            key="display_revoke_pick",
            format_func=lambda i: f"{live[i].name} · {live[i].created_at:%Y-%m-%d %H:%M}",
        )
        if pick is not None and st.button(t("settings.display_revoke"), key="display_revoke"):
            ok, _ = run_action(display.revoke_link, me, pick)
            if ok:
                st.session_state["admin_set_flash"] = t("settings.display_revoked_done", name=live[pick].name)
                st.rerun()
