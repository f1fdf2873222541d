"""Categories and their time limits (admin): add, rename, retire, set limits, calendars, priority and routing.

Changes apply to cases created afterwards; existing cases keep their due dates.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.admin import categories
from dashboard.admin.categories import CategoryInput
from dashboard.i18n import label, t
from dashboard.kernel.formatting import moment
from dashboard.territory import lookups as territory
from dashboard.ui.admin import AdminPage, change_log
from dashboard.ui.common import db_session
from models.enums import CalendarKind, Priority

PAGE = AdminPage("admin.categories", t("admin.cat_caption"), "admin_cat_flash")
me = PAGE.me


with db_session() as s:
    table = categories.category_table(s)
    depts = territory.departments(s, include_inactive=True)
dept_names: dict[int, str] = {int(i): n for i, n in zip(depts["id"], depts["name"], strict=True)}
dept_active: dict[int, bool] = {int(i): bool(a) for i, a in zip(depts["id"], depts["active"], strict=True)}


def _limit(amount: float, kind: str) -> str:
    return f"{amount:g} {label('calendar', kind)}"


st.dataframe(
    pd.DataFrame(
        {
            t("admin.code"): table["code"],
            t("admin.field.name_zh"): table["name_zh"],
            t("admin.field.name_en"): table["name_en"],
            t("admin.field.sla_limit"): [
                _limit(a, k) for a, k in zip(table["sla_limit"], table["calendar"], strict=True)
            ],
            t("admin.field.response_limit"): [
                _limit(a, k) for a, k in zip(table["response_limit"], table["response_calendar"], strict=True)
            ],
            t("admin.field.priority_default"): [label("priority", p) for p in table["priority_default"]],
            t("admin.field.department_id"): table["department"].fillna("—"),
            t("photos.admin.after_photo_column"): table["after_photo_required"].astype(bool),
            t("admin.active"): table["active"].astype(bool),
            t("admin.updated_at"): table["updated_at"].map(moment),
            t("admin.updated_by"): table["updated_by"].fillna(""),
        }
    ),
    hide_index=True,
    height=min(len(table) + 1, 26) * 35 + 3,  # every category visible without scrolling (up to 25)
    width="stretch",
    column_config={
        t("admin.active"): st.column_config.CheckboxColumn(),
        t("photos.admin.after_photo_column"): st.column_config.CheckboxColumn(),
    },
)
st.caption(t("admin.cat_applies_to_new"))


def _fields(prefix: str, row: pd.Series | None) -> CategoryInput:
    """The category form's inputs, preset from `row` (None for a new category)."""
    c1, c2 = st.columns(2)
    name_zh = c1.text_input(
        t("admin.field.name_zh"), row["name_zh"] if row is not None else "", max_chars=32, key=f"{prefix}_zh"
    )
    name_en = c2.text_input(
        t("admin.field.name_en"), row["name_en"] if row is not None else "", max_chars=64, key=f"{prefix}_en"
    )
    kinds = list(CalendarKind)
    c1, c2, c3, c4 = st.columns(4)
    sla_limit = c1.number_input(
        t("admin.field.sla_limit"),
        min_value=0.0,
        step=1.0,
        value=float(row["sla_limit"]) if row is not None else 5.0,
        key=f"{prefix}_limit",
    )
    calendar = c2.selectbox(
        t("admin.field.calendar"),
        kinds,
        format_func=lambda k: label("calendar", k),
        index=kinds.index(CalendarKind(row["calendar"])) if row is not None else 2,
        key=f"{prefix}_cal",
    )
    response_limit = c3.number_input(
        t("admin.field.response_limit"),
        min_value=0.0,
        step=1.0,
        value=float(row["response_limit"]) if row is not None else 1.0,
        key=f"{prefix}_resp",
    )
    response_calendar = c4.selectbox(
        t("admin.field.response_calendar"),
        kinds,
        format_func=lambda k: label("calendar", k),
        index=kinds.index(CalendarKind(row["response_calendar"])) if row is not None else 2,
        key=f"{prefix}_rcal",
    )
    priorities = list(Priority)
    current_dept = int(row["department_id"]) if row is not None and pd.notna(row["department_id"]) else None
    dept_options: list[int | None] = [None, *[i for i in dept_names if dept_active[i] or i == current_dept]]
    c1, c2 = st.columns(2)
    priority = c1.selectbox(
        t("admin.field.priority_default"),
        priorities,
        format_func=lambda p: label("priority", p),
        index=priorities.index(Priority(row["priority_default"])) if row is not None else 2,
        key=f"{prefix}_prio",
    )
    department_id = c2.selectbox(
        t("admin.field.department_id"),
        dept_options,
        format_func=lambda i: "—" if i is None else dept_names[i],
        index=dept_options.index(current_dept),
        key=f"{prefix}_dept",
    )
    after_photo = st.toggle(
        t("photos.admin.after_photo_required"),
        value=bool(row["after_photo_required"]) if row is not None else False,
        key=f"{prefix}_after_photo",
        help=t("photos.admin.after_photo_help"),
    )
    return CategoryInput(
        name_zh,
        name_en,
        sla_limit,
        calendar,
        response_limit,
        response_calendar,
        priority,
        department_id,
        after_photo,
    )


tab_edit, tab_new, tab_log = st.tabs([t("admin.edit"), t("admin.cat_new"), t("admin.changes")])

with tab_edit:
    by_id = {int(r["id"]): r for _, r in table.iterrows()}
    picked = st.selectbox(
        t("admin.cat_pick"),
        list(by_id),
        index=None,
        placeholder=t("admin.choose"),
        key="cat_pick",
        format_func=lambda i: (
            f"{by_id[i]['code']} · {by_id[i]['name_zh']}"
            + ("" if by_id[i]["active"] else f" ({t('admin.retired')})")
        ),
    )
    if picked is not None:
        row = by_id[picked]
        with st.form(f"cat_form_{picked}"):
            data = _fields(f"cat_{picked}", row)
            submitted = st.form_submit_button(t("admin.save"), type="primary", key=f"cat_{picked}_save")
        if submitted:
            PAGE.save(
                lambda s: categories.update_category(s, me, picked, data),
                t("admin.saved", what=row["code"]),
            )
        c1, c2, _ = st.columns([1, 1, 3])
        if row["active"]:
            if c1.button(t("admin.cat_retire"), key=f"cat_{picked}_retire", help=t("admin.cat_retire_help")):
                PAGE.attempt(
                    lambda s: categories.set_category_active(s, me, picked, False),
                    t("admin.cat_retired", code=row["code"]),
                )
        elif c1.button(t("admin.cat_restore"), key=f"cat_{picked}_restore"):
            PAGE.attempt(
                lambda s: categories.set_category_active(s, me, picked, True),
                t("admin.cat_restored", code=row["code"]),
            )
        if not row["in_use"] and c2.button(
            t("admin.delete"), key=f"cat_{picked}_delete", help=t("admin.cat_delete_help")
        ):
            PAGE.attempt(
                lambda s: categories.delete_category(s, me, picked),
                t("admin.deleted", what=row["code"]),
            )

with tab_new:
    with st.form("cat_new_form", clear_on_submit=False):
        code = st.text_input(t("admin.code"), max_chars=8, key="cat_new_code", help=t("admin.cat_code_help"))
        new_data = _fields("cat_new", None)
        created = st.form_submit_button(t("admin.create"), type="primary", key="cat_new_save")
    if created:
        PAGE.attempt(
            lambda s: categories.create_category(s, me, code, new_data),
            t("admin.created", what=code.strip().upper()),
        )

with tab_log:
    change_log("category_")
