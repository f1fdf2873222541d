"""Widgets of the grid worker's pages (my grid, visit, quick intake): phone-sized cards for cases, the inline
action dialog of the to-do list, labels of visit fields, and the cached glance at the grid.

Designed for a 390 px wide phone first: one column of bordered cards, full-width buttons at least 48 px tall,
no table wider than the screen, body text at 14 px or more.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import streamlit as st

from dashboard import clock
from dashboard.cases import change as case_change
from dashboard.cases import view as case_view
from dashboard.config import get_settings
from dashboard.i18n import label, t
from dashboard.kernel import privacy
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import trusted
from dashboard.reporting import kpi
from dashboard.territory import my_grid, todo_list, visits
from dashboard.territory.todo_list import TodoItem
from dashboard.ui import cases as case_ui
from dashboard.ui.common import db_session, plain
from models.enums import CaseStatus

MY_GRID = "pages/my_grid.py"
VISIT_PAGE = "pages/visit.py"
QUICK_INTAKE = "pages/quick_intake.py"
PREFILL_KEY = "field_prefill"
"""Session state handed from the visit page to quick intake: building, note and the visit to link."""
VISIT_BUILDING_KEY = "field_visit_building"
"""Session state: the building the worker tapped "visit" on in My grid (preselected on the visit page)."""
FLASH_KEY = case_ui.FLASH_KEY

PHONE_CSS = """
<style>
[data-testid="stMain"] .stButton button,
[data-testid="stMain"] .stFormSubmitButton button,
[data-testid="stMain"] [data-testid="stPageLink"] a { min-height: 3rem; }
[data-testid="stMain"] .stButtonGroup button { min-height: 2.75rem; padding-left: 0.9rem;
  padding-right: 0.9rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 0.875rem; }
</style>
"""
"""Touch-sized buttons and pills on the field pages (our own CSS, no user text)."""


def phone_css() -> None:
    st.html(PHONE_CSS)


# ---------------------------------------------------------------- labels


def met_label(value: str) -> str:
    """Whom the worker met (stored as its Chinese label) in the UI language."""
    try:
        index = visits.MET_OPTIONS.index(value)
    except ValueError:
        return value
    return t(f"field.met_{index}")


def group_label(name: str) -> str:
    return label("population", name)


def days_text(days: float | None) -> str:
    """Calendar days since a visit (``territory.field.calendar_days_since``) as '从未走访', '今天', '昨天', '3 天前'."""
    if days is None or days != days:  # None or NaN
        return t("field.never")
    whole = int(days)
    if whole <= 1:
        return t("field.today" if whole <= 0 else "field.yesterday")
    return t("field.days_ago", days=whole)


def fmt_dt(value: datetime | None) -> str:
    return case_ui.fmt_dt(value)


# ---------------------------------------------------------------- cached reads


_saved: dict[int, int] = {}
"""Per worker, how many visits and reports this process saw them save: part of the keys of the caches below,
so that saving one refreshes that worker's glance and building list only. (Clearing the caches refreshed
every worker's: with 97 workers on one process most page runs recomputed them.)"""


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def glance(me: Actor, url: str, day: date, saved: int) -> dict[str, Any]:
    """The grid at a glance for a worker (activity, buildings, volunteers, rates this month), as plain data,
    keyed by the day so the month's rates roll over."""
    now = clock.now()
    with db_session() as s:
        activity = my_grid.grid_activity(s, me, now=now)
        buildings = my_grid.building_recency(s, me, now=now)
        vols = my_grid.volunteers_vs_need(s, me, now=now)
        rates = my_grid.rates_vs_community(s, me, kpi.month_period(now.date()), now=now)
    return {"activity": activity, "buildings": buildings, "volunteers": vols, "rates": rates}


def current_glance(me: Actor) -> dict[str, Any]:
    return glance(me, get_settings().database_url, clock.now().date(), _saved.get(me.id, 0))


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def buildings_of(me: Actor, url: str, day: date, saved: int) -> list[tuple[int, str, int, float | None]]:
    """(id, name, households, days since last visit) of the worker's buildings, longest unvisited first."""
    with db_session() as s:
        df = my_grid.building_recency(s, me, now=clock.now())
    return [
        (
            int(r.building_id),
            str(r.name),
            int(r.households),
            None if r.days_since != r.days_since else float(r.days_since),
        )
        for r in df.itertuples()
    ]


def current_buildings(me: Actor) -> list[tuple[int, str, int, float | None]]:
    return buildings_of(me, get_settings().database_url, clock.now().date(), _saved.get(me.id, 0))


def clear_caches(me: Actor) -> None:
    """After a visit or report of `me`: their glance and building list show it at once (in this process)."""
    _saved[me.id] = _saved.get(me.id, 0) + 1


# ---------------------------------------------------------------- to-do cards


def _category(item: TodoItem) -> str:
    return case_ui.category_name(item.category_zh, item.category_en)


def todo_card(item: TodoItem, me: Actor, now: datetime) -> None:
    """One case as a phone card: ageing, number, title, due time or waiting time, the next step's button
    (opens its dialog right here) and "open" (the full case page)."""
    allowed = case_change.allowed_actions(me, item.state)
    action = todo_list.next_action(item, allowed)
    with st.container(border=True, key=f"todo_card_{item.id}"):
        badges = [case_ui.ageing_badge(item.ageing), f":gray-badge[{plain(_category(item))}]"]
        if item.supervised:
            badges.append(f":red-badge[{t('queue.flag_supervised')}]")
        st.markdown(" ".join(b for b in badges if b != "—") + f"　**{item.number}**")
        st.markdown(f"**{plain(item.title)}**")
        lines = []
        if item.status == CaseStatus.verified:
            lines.append(t("field.verified_at", at=fmt_dt(item.verified_at)))
            contact = " ".join(
                x
                for x in (privacy.mask_name(item.reporter_name), privacy.mask_phone(item.reporter_phone))
                if x
            )
            if contact:
                lines.append(t("field.contact", contact=contact))
        else:
            lines.append(
                trusted(f"{label('status', item.status)} · {case_ui.clock_text(item.due_at, now, True)}")
            )
        if item.address:
            lines.append(plain(privacy.mask_address(item.address)))
        st.caption(trusted(" · ".join(lines)))  # translated texts (their values escaped) and escaped text
        if item.pending_escalations and item.status == CaseStatus.in_progress:
            st.caption(t("case.waiting_departments", count=len(item.pending_escalations)))
        with st.container(horizontal=True, gap="small"):
            if action:
                if st.button(
                    t(f"field.do_{action}"),
                    key=f"todo_{action}_{item.id}",
                    type="primary",
                    width="stretch",
                ):
                    st.session_state[case_ui.DIALOG_KEY] = (action, item.id, item.version)
            if st.button(t("field.open_case"), key=f"todo_open_{item.id}", width="stretch"):
                case_ui.close_dialog()
                st.switch_page(case_ui.CASE_PAGE, query_params={"case": item.number})


def open_todo_dialog(me: Actor) -> None:
    """The action dialog the worker opened from a card (kept across the dialog's own reruns)."""
    wanted = st.session_state.get(case_ui.DIALOG_KEY)
    if not wanted:
        return
    action, case_id, version = wanted
    with db_session() as s:
        detail = case_view.case_detail(s, me, case_id)
    if detail is None:
        case_ui.close_dialog()
        return
    case_ui.open_action(action, detail, me, version)


def metric_row(items: list[tuple[str, str, str | None]], key: str) -> None:
    """Small bordered figures side by side, wrapping on a phone: (label, value, delta text or None)."""
    with st.container(horizontal=True, gap="small", key=key):
        for name, value, delta in items:
            st.metric(name, value, delta=delta, border=True, width="stretch", delta_arrow="off")
