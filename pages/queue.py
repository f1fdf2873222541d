"""Triage queue: the cases in the user's scope, filtered (every filter in the URL, so a view can be shared),
counted per status, one page at a time from SQL; bulk dispatch, supervise and export. It opens on the work to
do now (待办: new reports first, then the least time left); the overdue cases are their own view (超期)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.cases.workflow import OpenCounts
from dashboard.config import get_settings
from dashboard.i18n import current_lang, label, t, t_plain
from dashboard.io import exports
from dashboard.io.exports import may_export_unmasked
from dashboard.kernel import privacy
from dashboard.kernel.scope import Actor
from dashboard.ui import cases as ui
from dashboard.ui.common import actor, db_session, page_title, plain, selected_rows
from dashboard.ui.warning_alerts import risk_text
from models.enums import ACTIVE_STATUSES, Ageing, CaseSource

me = actor()
page_title("queue.title")
ui.flash()
look = ui.current_lookups()
CATS = {code: (cid, ui.category_name(zh, en)) for cid, code, zh, en, _ in look["categories"]}
COMMS = {code: (cid, name) for cid, code, name in look["communities"]}
GRIDS = {code: (gid, name, comm) for gid, code, name, comm in look["grids"]}
DEPTS = {code: (did, name) for did, code, name in look["departments"]}
AGES = [a.value for a in Ageing]
SOURCES = [s.value for s in CaseSource]
SORTS = list(queue.SORTS)
_OWN_VIEWS = ("todo", "overdue", "high_risk", "open", "all")
"""Views with a name of their own (the others are one status)."""


# ---------------------------------------------------------------- URL ⇄ widgets
def _from_url(
    key: str, param: str, default: object, options: list | None = None, multi: bool = False
) -> None:
    """Initialise a widget's state from the query string once (invalid values fall back to the default)."""
    if key in st.session_state:
        return
    if multi:
        values = [v for v in st.query_params.get_all(param) if options is None or v in options]
        st.session_state[key] = values
        return
    value = st.query_params.get(param)
    st.session_state[key] = value if value is not None and (options is None or value in options) else default


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


_from_url("qf_view", "view", "todo", list(queue.VIEWS))
_from_url("qf_q", "q", "")
_from_url("qf_sort", "sort", "urgency", SORTS)
_from_url("qf_age", "age", [], AGES, multi=True)
_from_url("qf_cat", "cat", [], list(CATS), multi=True)
_from_url("qf_src", "src", [], SOURCES, multi=True)
_from_url("qf_comm", "comm", None, list(COMMS))
_from_url("qf_grid", "grid", None, list(GRIDS))
_from_url("qf_dept", "dept", None, list(DEPTS))
if "qf_dates" not in st.session_state:
    start, end = _date(st.query_params.get("from")), _date(st.query_params.get("to"))
    st.session_state["qf_dates"] = tuple(d for d in (start, end) if d)
if "qf_page" not in st.session_state:
    raw = st.query_params.get("page", "1")
    st.session_state["qf_page"] = int(raw) if raw.isdigit() and int(raw) > 0 else 1

# ---------------------------------------------------------------- filters
top = st.columns([3, 1])
hint = "queue.search_hint" if privacy.searchable(me, "case") == "substring" else "queue.search_hint_exact"
top[0].text_input(t("queue.search"), key="qf_q", placeholder=t(hint), max_chars=60)
top[1].selectbox(t("queue.sort"), SORTS, key="qf_sort", format_func=lambda v: t(f"queue.sort_{v}"))
active_filters = any(
    st.session_state[k] for k in ("qf_age", "qf_cat", "qf_src", "qf_comm", "qf_grid", "qf_dept", "qf_dates")
)
with st.expander(t("queue.filters"), expanded=active_filters, icon=":material/filter_list:"):
    st.pills(t("queue.ageing"), AGES, key="qf_age", selection_mode="multi", format_func=ui.ageing_text)
    c1, c2 = st.columns(2)
    c1.multiselect(
        t("queue.category"),
        list(CATS),
        key="qf_cat",
        format_func=lambda c: CATS[c][1],
        placeholder=t("app.all"),
    )
    c2.multiselect(
        t("queue.source"),
        SOURCES,
        key="qf_src",
        format_func=lambda v: label("source", v),
        placeholder=t("app.all"),
    )
    c3, c4, c5 = st.columns(3)
    if me.reads_all:
        c3.selectbox(
            t("queue.community"),
            [None, *COMMS],
            key="qf_comm",
            format_func=lambda c: t("app.all") if c is None else COMMS[c][1],
            placeholder=t("app.all"),
        )
    comm = st.session_state.get("qf_comm") if me.reads_all else None
    grid_options = [code for code, (_, _, cid) in GRIDS.items() if comm is None or COMMS[comm][0] == cid]
    if me.community_id and not me.reads_all:
        grid_options = [code for code, (_, _, cid) in GRIDS.items() if cid == me.community_id]
    if me.grid_id is None:
        if st.session_state.get("qf_grid") not in (None, *grid_options):
            st.session_state["qf_grid"] = None
        c4.selectbox(
            t("queue.grid"),
            [None, *grid_options],
            key="qf_grid",
            format_func=lambda c: t("app.all") if c is None else f"{c} {GRIDS[c][1]}",
            placeholder=t("app.all"),
        )
    c5.selectbox(
        t("queue.department"),
        [None, *DEPTS],
        key="qf_dept",
        format_func=lambda c: t("app.all") if c is None else DEPTS[c][1],
        placeholder=t("app.all"),
    )
    st.date_input(t("queue.dates"), key="qf_dates", format="YYYY-MM-DD", max_value=clock.now().date())
    if st.button(t("queue.clear"), key="qf_clear", icon=":material/filter_alt_off:"):
        for k in (
            "qf_age",
            "qf_cat",
            "qf_src",
            "qf_comm",
            "qf_grid",
            "qf_dept",
            "qf_dates",
            "qf_q",
            "qf_page",
        ):
            st.session_state.pop(k, None)
        st.query_params.clear()
        st.rerun()


def _filters(view: str) -> QueueFilters:
    dates = st.session_state.get("qf_dates") or ()
    pick = st.session_state.get
    return QueueFilters(
        view=view,
        ageing=tuple(pick("qf_age") or ()),
        categories=tuple(CATS[c][0] for c in pick("qf_cat") or ()),
        community_id=COMMS[pick("qf_comm")][0] if me.reads_all and pick("qf_comm") else None,
        grid_id=GRIDS[pick("qf_grid")][0] if me.grid_id is None and pick("qf_grid") else None,
        department_id=DEPTS[pick("qf_dept")][0] if pick("qf_dept") else None,
        sources=tuple(pick("qf_src") or ()),
        date_from=dates[0] if len(dates) > 0 else None,
        date_to=dates[1] if len(dates) > 1 else (dates[0] if len(dates) == 1 else None),
        text=(pick("qf_q") or "").strip(),
        sort=pick("qf_sort") or "urgency",
    )


@st.cache_data(ttl=5, max_entries=256, show_spinner=False)
def _counts(me: Actor, filters: QueueFilters, url: str) -> dict[str, int]:
    """Counts per status (a few seconds old at most)."""
    with db_session() as s:
        return queue.status_counts(s, me, filters, now=clock.now())


now = clock.now()
url = get_settings().database_url
with st.spinner(t("app.loading")):
    counts = _counts(me, _filters("all"), url)
st.segmented_control(
    t("queue.view"),
    list(queue.VIEWS),
    key="qf_view",
    required=True,
    format_func=lambda v: (
        f"{t('queue.view_' + v) if v in _OWN_VIEWS else label('status', v)} {counts.get(v, 0):,}"
    ),
)
st.caption(plain(OpenCounts.from_statuses(counts).breakdown()), help=t("status_group.not_closed_help"))
filters = _filters(st.session_state.get("qf_view") or "todo")

# A new filter starts again at page 1; the pager's key follows the filter so that it restarts too.
if st.session_state.get("qf_last") != filters:
    if "qf_last" in st.session_state:
        st.session_state["qf_page"] = 1
    st.session_state["qf_last"] = filters
pager_key = f"qf_pager_{abs(hash(filters))}"
if st.session_state.get(pager_key):
    st.session_state["qf_page"] = st.session_state[pager_key]

with st.spinner(t("app.loading")), db_session() as s:
    result = queue.queue_page(s, me, filters, page=st.session_state["qf_page"], now=now)


def _sync_url(page: int) -> None:
    """Write the current filters to the query string (only what differs from the defaults)."""
    f, dates = filters, st.session_state.get("qf_dates") or ()
    params: dict[str, list[str]] = {}
    if f.view != "todo":
        params["view"] = [f.view]
    if f.text:
        params["q"] = [f.text]
    if f.sort != "urgency":
        params["sort"] = [f.sort]
    for key, param in (("qf_age", "age"), ("qf_cat", "cat"), ("qf_src", "src")):
        if st.session_state.get(key):
            params[param] = list(st.session_state[key])
    for key, param in (("qf_comm", "comm"), ("qf_grid", "grid"), ("qf_dept", "dept")):
        if st.session_state.get(key):
            params[param] = [st.session_state[key]]
    if dates:
        params["from"] = [dates[0].isoformat()]
        params["to"] = [(dates[1] if len(dates) > 1 else dates[0]).isoformat()]
    if page > 1:
        params["page"] = [str(page)]
    if {k: st.query_params.get_all(k) for k in st.query_params} != params:
        st.query_params.from_dict(params)


# ---------------------------------------------------------------- the table
rows = result.rows
if rows.empty:
    _sync_url(1)
    st.info(
        t("queue.empty") if result.total == 0 and not filters.text else t("queue.empty_filtered"),
        icon=":material/inbox:",
    )
    if filters.view != "all" and counts["all"]:  # e.g. a searched number that is overdue, not 待办
        st.info(t("queue.found_elsewhere", count=counts["all"]), icon=":material/manage_search:")
    st.stop()


def _flags(supervised: bool, escalation: object, extensions: int) -> str:
    """督办 / 吹哨 level / extended n times, as the flags column shows them."""
    flags = (
        t("queue.flag_supervised") if supervised else "",
        label("escalation", escalation) if isinstance(escalation, str) else "",
        t("queue.flag_extended", n=extensions) if extensions else "",
    )
    return " ".join(x for x in flags if x)


running = rows["status"].isin([s.value for s in ACTIVE_STATUSES])
table = pd.DataFrame(
    {
        t("queue.col_ageing"): rows["ageing"].map(ui.ageing_text),
        t("queue.col_number"): "case?case=" + rows["number"],
        t("queue.col_title"): rows["title"],
        t("queue.col_status"): rows["status"].map(lambda v: label("status", v)),
        t("queue.col_category"): [
            ui.category_name(zh, en) for zh, en in zip(rows["category_zh"], rows["category_en"], strict=True)
        ],
        t("queue.col_grid"): rows["grid_code"],
        t("queue.col_handler"): [
            " / ".join(x for x in (a, d) if isinstance(x, str) and x)
            for a, d in zip(rows["assignee"], rows["department"], strict=True)
        ],
        t("queue.col_due"): rows["due_at"].map(ui.fmt_dt),
        t("queue.col_left"): [
            ui.clock_text(due, now, run) for due, run in zip(rows["due_at"], running, strict=True)
        ],
        t("queue.col_risk"): rows["risk"].map(risk_text),
        t("queue.col_reported"): rows["reported_at"].map(ui.fmt_dt),
        t("queue.col_source"): rows["source"].map(lambda v: label("source", v)),
        t("queue.col_flags"): [
            _flags(sup, esc, ext)
            for sup, esc, ext in zip(
                rows["supervised"], rows["escalation_level"], rows["extension_count"], strict=True
            )
        ],
        t("queue.col_address"): rows["address"],
    }
)
if filters.view == "high_risk":  # why each case is at risk, next to its risk (the supervisor's view)
    table.insert(
        table.columns.get_loc(t("queue.col_risk")) + 1,
        t("queue.col_factors"),
        ["、".join(name for name, _ in factors[:3]) for factors in rows["risk_factors"]],
    )
st.caption(
    t(
        "queue.showing",
        start=(result.page - 1) * result.page_size + 1,
        end=(result.page - 1) * result.page_size + len(rows),
        total=result.total,
    )
)
event = st.dataframe(
    ui.style_ageing(table, t("queue.col_ageing"), rows["ageing"]),
    hide_index=True,
    width="stretch",
    key="queue_table",
    on_select="rerun",
    selection_mode="multi-row",
    column_config={
        t("queue.col_number"): st.column_config.LinkColumn(display_text=r"case\?case=(.*)$", width="medium"),
        t("queue.col_title"): st.column_config.TextColumn(width="large"),
        t("queue.col_risk"): st.column_config.TextColumn(help=t_plain("queue.risk_help")),
    },
)
if result.pages > 1:
    if st.session_state.get(pager_key, 1) > result.pages:
        del st.session_state[pager_key]
    st.pagination(result.pages, default=result.page, key=pager_key, max_visible_pages=7)
st.session_state["qf_page"] = result.page
_sync_url(result.page)

# ---------------------------------------------------------------- selection and bulk actions
selected = selected_rows(event, len(rows))
picked = rows.iloc[selected] if selected else rows.iloc[0:0]
lang = current_lang()
bar = st.columns([1, 1, 1, 1, 2])
if len(picked) == 1:
    number = picked.iloc[0]["number"]
    if bar[0].button(
        t("queue.open", number=number), key="queue_open", type="primary", icon=":material/open_in_new:"
    ):
        st.switch_page(ui.CASE_PAGE, query_params={"case": number})
else:
    bar[0].caption(t("queue.select_hint"))
bulk_rows = [(int(r.id), r.number, int(r.version)) for r in picked.itertuples()]
if me.is_supervisor:
    if bar[1].button(
        t("queue.bulk_dispatch"), key="queue_bulk_dispatch", disabled=not bulk_rows, icon=":material/send:"
    ):
        st.session_state[ui.BULK_KEY] = "dispatch"
    if bar[2].button(
        t("queue.bulk_supervise"),
        key="queue_bulk_supervise",
        disabled=not bulk_rows,
        icon=":material/campaign:",
    ):
        st.session_state[ui.BULK_KEY] = "supervise"
    if st.session_state.get(ui.BULK_KEY) and bulk_rows:
        ui.bulk_dialog(st.session_state[ui.BULK_KEY], bulk_rows, me)
    elif not bulk_rows:
        st.session_state.pop(ui.BULK_KEY, None)
unmasked = may_export_unmasked(me) and bar[4].toggle(t("queue.export_unmasked"), key="queue_unmasked")
ids = [r[0] for r in bulk_rows]


fmt = (
    st.segmented_control(
        t("queue.export_format"),
        queue.EXPORT_FORMATS,
        default="csv",
        format_func=lambda f: t_plain(f"queue.export_format_{f}"),
        key="queue_export_format",
        required=True,
    )
    or "csv"
)
MIMES = {"csv": exports.CSV_MIME, "xlsx": exports.XLSX_MIME}
fmt_name = t_plain(f"queue.export_format_{fmt}")


def _export_selected() -> bytes:
    with db_session() as s:
        return queue.export_file(s, me, fmt, case_ids=ids, unmasked=unmasked, lang=lang)


def _export_filtered() -> bytes:
    with db_session() as s:
        return queue.export_file(s, me, fmt, filters=filters, unmasked=unmasked, lang=lang)


stamp = f"{now:%Y%m%d-%H%M}"
bar[3].download_button(
    t("queue.export_selected", format=fmt_name),
    data=_export_selected,
    file_name=f"cases-{stamp}.{fmt}",
    mime=MIMES[fmt],
    key="queue_export_selected",
    disabled=not ids,
    on_click="ignore",
    icon=":material/download:",
)
st.download_button(
    t("queue.export_filtered", count=min(result.total, queue.EXPORT_MAX), format=fmt_name),
    data=_export_filtered,
    file_name=f"cases-{stamp}-all.{fmt}",
    mime=MIMES[fmt],
    key="queue_export_filtered",
    on_click="ignore",
    icon=":material/download:",
)
