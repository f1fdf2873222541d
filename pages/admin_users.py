"""User administration (admin only): list, create, edit role and scope, deactivate, unlock, reset passwords."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin import users
from dashboard.admin.users import SCOPE_OF_ROLE, UserInput, UserRow
from dashboard.i18n import label, t, t_plain
from dashboard.kernel.formatting import moment
from dashboard.kernel.policy import may
from dashboard.territory import lookups as territory
from dashboard.ui.common import actor, db_session, page_title
from dashboard.ui.errors import run_action
from models.enums import Role

FIELD_LABELS = {
    "display_name": "users.display_name",
    "role": "users.role",
    "community_id": "users.community",
    "grid_id": "users.grid",
    "department_id": "users.department",
    "phone": "users.phone",
    "sso_subject": "users.sso_subject",
}

me = actor()
if not may(me, "admin.manage"):
    st.error(t("users.err_forbidden"))
    st.stop()

page_title("admin.users", t("users.caption"))

flash = st.session_state.pop("users_flash", None)
if flash:
    st.success(flash)


def _done(message: str) -> None:
    st.session_state["users_flash"] = message
    st.rerun()


with db_session() as s:
    communities = territory.communities(s)
    grids = territory.grids(s)
    departments = territory.departments(s, include_inactive=True)
community_names = dict(zip(communities["id"], communities["name"], strict=True))
grid_names = {i: f"{c} {n}" for i, c, n in zip(grids["id"], grids["code"], grids["name"], strict=True)}
department_names = dict(zip(departments["id"], departments["name"], strict=True))


def _scope_text(u: UserRow) -> str:
    match SCOPE_OF_ROLE[u.role]:
        case "community":
            return community_names.get(u.community_id, "?")
        case "grid":
            return grid_names.get(u.grid_id, "?")
        case "department":
            return department_names.get(u.department_id, "?")
    return t("users.scope_all")


def _scope_pickers(prefix: str, role: Role, current: UserRow | None) -> dict[str, int | None]:
    """The one picker the role needs (community, grid or department), preset to the user's current scope."""
    kind = SCOPE_OF_ROLE[role]
    if kind is None:
        return {}
    options: dict[int, str] = {
        "community": community_names,
        "grid": grid_names,
        "department": department_names,
    }[kind]
    field = f"{kind}_id"
    now = getattr(current, field) if current else None
    ids = list(options)
    choice = st.selectbox(
        t(f"users.{kind}"),
        ids,
        index=ids.index(now) if now in ids else None,
        format_func=lambda i: options[i],
        key=f"{prefix}_{kind}",
    )
    return {field: choice}


# ---- list ----
c1, c2, c3 = st.columns([2, 1, 1])
query = c1.text_input(t("users.search"), key="users_q")
role_filter = c2.selectbox(
    t("users.role"),
    [None, *Role],
    format_func=lambda r: t("users.any") if r is None else label("role", r),
    key="users_role",
    placeholder=t("app.all"),
)
status_filter = c3.selectbox(
    t("users.status"),
    ["any", "active", "inactive"],
    key="users_status",
    format_func=lambda v: t(f"users.{v}"),
)
with db_session() as s:
    rows = users.list_users(
        s, me, query, role_filter, None if status_filter == "any" else status_filter == "active"
    )
    everyone = users.list_users(s, me)

st.caption(t("users.count", n=len(rows)))
st.dataframe(
    pd.DataFrame(
        {
            t("users.username"): [u.username for u in rows],
            t("users.display_name"): [u.display_name for u in rows],
            t("users.role"): [label("role", u.role) for u in rows],
            t("users.scope"): [_scope_text(u) for u in rows],
            t("users.active"): [u.active for u in rows],
            t("users.locked_until"): [moment(u.locked_until) for u in rows],
            t("users.last_login"): [moment(u.last_login_at, missing=t_plain("users.never")) for u in rows],
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={t("users.active"): st.column_config.CheckboxColumn()},
)

tab_edit, tab_new = st.tabs([t("users.edit"), t("users.new")])

# ---- edit ----
with tab_edit:
    by_id = {u.id: u for u in everyone}
    picked = st.selectbox(
        t("users.pick"),
        list(by_id),
        index=None,
        key="users_pick",
        format_func=lambda i: f"{by_id[i].username} · {by_id[i].display_name}",
        placeholder=t("app.choose"),
    )
    if picked is not None:
        u = by_id[picked]
        k = f"ue{u.id}"
        name = st.text_input(t("users.display_name"), u.display_name, key=f"{k}_name", max_chars=64)
        roles = list(Role)
        role = st.selectbox(
            t("users.role"),
            roles,
            index=roles.index(u.role),
            key=f"{k}_role",
            format_func=lambda r: label("role", r),
        )
        scope = _scope_pickers(k, role, u)
        phone = st.text_input(t("users.phone"), u.phone, key=f"{k}_phone", max_chars=32)
        subject = st.text_input(
            t("users.sso_subject"),
            u.sso_subject or "",
            key=f"{k}_sso",
            help=t("users.sso_subject_help"),
            max_chars=256,
        )
        if st.button(t("users.save"), key=f"{k}_save", type="primary"):
            ok, changed = run_action(
                users.update_user, me, u.id, UserInput(name, role, phone=phone, sso_subject=subject, **scope)
            )
            if ok:
                _done(
                    t("users.saved", changes="、".join(t(FIELD_LABELS[f]) for f in changed))
                    if changed
                    else t("users.unchanged")
                )

        st.divider()
        a, b, c = st.columns(3)
        with a:
            if u.active:
                sure = st.checkbox(t("users.confirm_deactivate"), key=f"{k}_sure")
                if st.button(
                    t("users.deactivate"),
                    key=f"{k}_deactivate",
                    disabled=not sure,
                    icon=":material/person_off:",
                ):
                    ok, _ = run_action(users.set_active, me, u.id, False)
                    if ok:
                        _done(t("users.deactivated", username=u.username))
            elif st.button(t("users.reactivate"), key=f"{k}_reactivate", icon=":material/person_check:"):
                ok, _ = run_action(users.set_active, me, u.id, True)
                if ok:
                    _done(t("users.reactivated", username=u.username))
        with b:
            if (
                u.locked_until is not None
                and u.locked_until > clock.now()
                and st.button(t("users.unlock"), key=f"{k}_unlock", icon=":material/lock_open:")
            ):
                ok, _ = run_action(users.unlock, me, u.id)
                if ok:
                    _done(t("users.unlocked", username=u.username))
        with c, st.form(f"{k}_reset_form", border=True):
            st.markdown(f"**{t('users.reset')}**")
            pw1 = st.text_input(
                t("users.new_password"), type="password", key=f"{k}_pw1", autocomplete="new-password"
            )
            pw2 = st.text_input(
                t("users.password_repeat"), type="password", key=f"{k}_pw2", autocomplete="new-password"
            )
            st.caption(t("users.password_rules"))
            if st.form_submit_button(t("users.reset"), key=f"{k}_reset"):
                if pw1 != pw2:
                    st.error(t("users.password_mismatch"))
                else:
                    ok, _ = run_action(users.reset_password, me, u.id, pw1)
                    if ok:
                        _done(t("users.reset_done", username=u.username))

# ---- create ----
with tab_new:
    username = st.text_input(t("users.username"), key="un_username", max_chars=64)
    name = st.text_input(t("users.display_name"), key="un_name", max_chars=64)
    role = st.selectbox(
        t("users.role"),
        list(Role),
        index=None,
        key="un_role",
        format_func=lambda r: label("role", r),
        placeholder=t("app.choose"),
    )
    scope = _scope_pickers("un", role, None) if role is not None else {}
    phone = st.text_input(t("users.phone"), key="un_phone", max_chars=32)
    subject = st.text_input(
        t("users.sso_subject"), key="un_sso", help=t("users.sso_subject_help"), max_chars=256
    )
    pw1 = st.text_input(t("users.password"), type="password", key="un_pw1", autocomplete="new-password")
    pw2 = st.text_input(
        t("users.password_repeat"), type="password", key="un_pw2", autocomplete="new-password"
    )
    st.caption(t("users.password_rules"))
    if st.button(t("users.create"), key="un_create", type="primary", icon=":material/person_add:"):
        if role is None:
            st.error(t("users.err_role"))
        elif pw1 != pw2:
            st.error(t("users.password_mismatch"))
        else:
            ok, _ = run_action(
                users.create_user,
                me,
                username,
                pw1,
                UserInput(name, role, phone=phone, sso_subject=subject, **scope),
            )
            if ok:
                for key in ("un_username", "un_name", "un_role", "un_phone", "un_sso", "un_pw1", "un_pw2"):
                    st.session_state.pop(key, None)
                _done(t("users.created", username=username.strip()))
