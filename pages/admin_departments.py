"""Departments (条, admin): add, edit contacts, deactivate; which categories route to each and its open and
overdue escalations (吹哨报到)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.admin import departments
from dashboard.admin.departments import DepartmentInput
from dashboard.i18n import t
from dashboard.ui.admin import AdminPage, change_log
from dashboard.ui.common import db_session
from models.enums import DepartmentKind

PAGE = AdminPage("admin.departments", t("admin.dept_caption"), "admin_dept_flash")
me = PAGE.me


def _kind(kind: str) -> str:
    return t(f"admin.dept_kind.{kind}")


with db_session() as s:
    table = departments.department_table(s, me)

st.dataframe(
    pd.DataFrame(
        {
            t("admin.code"): table["code"],
            t("admin.field.name"): table["name"],
            t("admin.field.kind"): [_kind(k) for k in table["kind"]],
            t("admin.field.contact_name"): table["contact_name"],
            t("admin.field.contact_phone"): table["contact_phone"],
            t("admin.active"): table["active"].astype(bool),
            t("admin.dept_categories"): table["categories"],
            t("admin.dept_open_escalations"): table["open_escalations"],
            t("admin.dept_overdue_escalations"): table["overdue_escalations"],
        }
    ),
    hide_index=True,
    height=min(len(table) + 1, 26) * 35 + 3,
    width="stretch",
    column_config={t("admin.active"): st.column_config.CheckboxColumn()},
)


def _fields(prefix: str, row: pd.Series | None) -> DepartmentInput:
    kinds = list(DepartmentKind)
    c1, c2, c3 = st.columns([2, 1, 1])
    name = c1.text_input(
        t("admin.field.name"), row["name"] if row is not None else "", max_chars=64, key=f"{prefix}_name"
    )
    code = c2.text_input(
        t("admin.code"),
        row["code"] if row is not None else "",
        max_chars=16,
        key=f"{prefix}_code",
        help=t("admin.dept_code_help"),
    )
    kind = c3.selectbox(
        t("admin.field.kind"),
        kinds,
        format_func=_kind,
        key=f"{prefix}_kind",
        index=kinds.index(DepartmentKind(row["kind"]))
        if row is not None
        else kinds.index(DepartmentKind.other),
    )
    c1, c2 = st.columns(2)
    contact = c1.text_input(
        t("admin.field.contact_name"),
        row["contact_name"] if row is not None else "",
        max_chars=32,
        key=f"{prefix}_contact",
    )
    phone = c2.text_input(
        t("admin.field.contact_phone"),
        row["contact_phone"] if row is not None else "",
        max_chars=32,
        key=f"{prefix}_phone",
    )
    return DepartmentInput(name, code, kind, contact, phone)


tab_edit, tab_new, tab_log = st.tabs([t("admin.edit"), t("admin.dept_new"), t("admin.changes")])

with tab_edit:
    by_id = {int(r["id"]): r for _, r in table.iterrows()}
    picked = st.selectbox(
        t("admin.dept_pick"),
        list(by_id),
        index=None,
        placeholder=t("admin.choose"),
        key="dept_pick",
        format_func=lambda i: (
            f"{by_id[i]['code']} · {by_id[i]['name']}"
            + ("" if by_id[i]["active"] else f" ({t('admin.inactive')})")
        ),
    )
    if picked is not None:
        row = by_id[picked]
        with st.form(f"dept_form_{picked}"):
            data = _fields(f"dept_{picked}", row)
            submitted = st.form_submit_button(t("admin.save"), type="primary", key=f"dept_{picked}_save")
        if submitted:
            PAGE.save(
                lambda s: departments.update_department(s, me, picked, data),
                t("admin.saved", what=data.name.strip()),
            )
        if row["active"]:
            if st.button(
                t("admin.deactivate"), key=f"dept_{picked}_off", help=t("admin.dept_deactivate_help")
            ):
                PAGE.attempt(
                    lambda s: departments.set_department_active(s, me, picked, False),
                    t("admin.deactivated", what=row["name"]),
                )
        elif st.button(t("admin.reactivate"), key=f"dept_{picked}_on"):
            PAGE.attempt(
                lambda s: departments.set_department_active(s, me, picked, True),
                t("admin.reactivated", what=row["name"]),
            )

with tab_new:
    with st.form("dept_new_form"):
        new_data = _fields("dept_new", None)
        created = st.form_submit_button(t("admin.create"), type="primary", key="dept_new_save")
    if created:
        PAGE.attempt(
            lambda s: departments.create_department(s, me, new_data),
            t("admin.created", what=new_data.name.strip()),
        )

with tab_log:
    change_log("department_")
