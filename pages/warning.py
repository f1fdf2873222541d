"""研判预警: the alerts of the morning run by kind (异常增长, 重复诉求, 热点, 超期风险), each with its evidence and
its cases, and the one-click 督办 / 列为专项 / 忽略 (with a reason), all audited; past days by the date
selector. The page only reads the stored alerts (``dashboard.reporting.warning.store``): it never computes
a detector, except when an administrator asks for a run now.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import clock
from dashboard.i18n import current_lang, t
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.reporting import alert_digest as digest
from dashboard.reporting.warning import store
from dashboard.reporting.warning.store import KIND_ORDER, AlertView, RunView
from dashboard.ui import warning_alerts as ui
from dashboard.ui.common import actor, db_session, page_title
from models.enums import AlertStatus

PER_PAGE = 10
"""Alert cards per page of one kind."""


def _day_from_url(latest: date | None) -> date:
    raw = st.query_params.get("day")
    try:
        return date.fromisoformat(raw) if raw else (latest or clock.now().date())
    except ValueError:
        return latest or clock.now().date()


def _run_caption(run: RunView | None) -> None:
    """When the alerts were last computed, how long it took and how good the risk model is (discreetly)."""
    if run is None:
        st.caption(t("warning.never_run"))
        return
    if run.state == "failed":
        st.caption(t("warning.last_run_failed", at=f"{run.started_at:%Y-%m-%d %H:%M}"))
        return
    at = run.finished_at or run.started_at
    seconds = f"{run.duration_s:.1f}" if run.duration_s is not None else "—"
    line = t("warning.last_run", at=f"{at:%Y-%m-%d %H:%M}", seconds=seconds)
    if run.model_auc is not None:
        line += " · " + t(
            "warning.model_quality", auc=f"{run.model_auc:.2f}", rows=f"{run.model_rows or 0:,}"
        )
    st.caption(line)


def _run_now(me: Actor) -> None:
    """The administrator's "run now": computes today's alerts (the job keeps what was done about them)."""
    if not may(me, "alert.run"):
        return
    if not st.button(
        t("warning.run_now"), key="warning_run", icon=":material/refresh:", help=t("warning.run_help")
    ):
        return
    from dashboard.reporting.warning import run as job

    with st.spinner(t("warning.running")):
        try:
            outcome = job.run(clock.now().date(), force=True)
        except Exception:  # the job logged it and stored the run as failed; the caption says so
            st.rerun()
    if not outcome.ran:
        st.warning(t("warning.run_busy"))
        return
    st.session_state[ui.FLASH_KEY] = t("warning.run_done", count=sum(outcome.counts.values()))
    st.query_params.pop("day", None)
    st.rerun()


def _kind_options(views: list[AlertView]) -> dict[str, int]:
    return {k.value: sum(v.kind == k for v in views) for k in KIND_ORDER}


me = actor()
lang = current_lang()
page_title("warning.title", t("warning.caption"))
ui.flash()
with db_session() as s:
    run = store.last_run(s)
    latest = store.latest_day(s)

left, mid, right = st.columns([1.2, 1, 2.2], vertical_alignment="bottom")
day = left.date_input(
    t("warning.day"),
    value=_day_from_url(latest),
    max_value=clock.now().date(),
    format="YYYY-MM-DD",
    key="warning_day",
    help=t("warning.day_help"),
)
only_open = mid.toggle(t("warning.status_filter"), value=True, key="warning_open")
with right:
    _run_caption(run)
if day != (latest or clock.now().date()):
    st.query_params["day"] = day.isoformat()
else:
    st.query_params.pop("day", None)

with db_session() as s:
    everything = store.alerts_for(s, me, day=day, status="all", lang=lang)
views = [v for v in everything if v.status == AlertStatus.open] if only_open else everything
# ongoing repeats without new cases (dashboard.reporting.warning.episode) stay behind a switch
quiet = [v for v in views if not v.news]
if not st.session_state.get("warning_quiet"):
    views = [v for v in views if v.news]

if not everything:
    today = day == clock.now().date()
    st.info(
        t("warning.empty") if today else t("warning.empty_day", day=f"{day:%Y-%m-%d}"),
        icon=":material/verified:",
    )
    _run_now(me)
    st.stop()

counts = _kind_options(views)
first = next((k for k, n in counts.items() if n), KIND_ORDER[0].value)
if st.session_state.get("warning_kind") not in counts:
    wanted = st.query_params.get("kind")
    st.session_state["warning_kind"] = wanted if wanted in counts else first
kind = (
    st.segmented_control(
        t("warning.kind"),
        list(counts),
        key="warning_kind",
        required=True,
        format_func=lambda k: f"{digest.kind_label(k)} {counts[k]:,}",
    )
    or first
)
st.query_params["kind"] = kind
st.caption(t(f"warning.kind_help.{kind}"))
if kind == "repeat" and quiet:
    st.toggle(t("warning.show_ongoing", n=len(quiet)), key="warning_quiet", help=t("warning.ongoing_help"))
shown = [v for v in views if v.kind.value == kind]
if not shown:
    handled = any(v.kind.value == kind and v.status != AlertStatus.open for v in everything)
    if kind == "repeat" and quiet:
        st.info(t("warning.empty_news"))
    else:
        st.info(t("warning.empty_status") if handled else t("warning.empty_kind"))
    _run_now(me)
    st.stop()

pages = max(1, -(-len(shown) // PER_PAGE))
page = int(st.session_state.get(f"warning_page_{kind}", 1) or 1)
page = min(max(page, 1), pages)
part = shown[(page - 1) * PER_PAGE : page * PER_PAGE]
if pages > 1:
    st.caption(
        t(
            "warning.showing",
            start=(page - 1) * PER_PAGE + 1,
            end=(page - 1) * PER_PAGE + len(part),
            total=len(shown),
        )
    )
with db_session() as s:
    cases = {v.id: digest.alert_cases(s, me, v.case_ids, lang=lang) for v in part}
for view in part:
    ui.alert_card(me, view, cases[view.id])
if pages > 1:
    st.pagination(pages, default=page, key=f"warning_page_{kind}", max_visible_pages=7)
_run_now(me)
