"""How the 研判预警 page shows one alert: what and where, how unusual, its evidence, its cases, and the
one-click actions (督办, 列为专项, 忽略 with a reason) that the store writes and audits.

Evidence per kind (``store.AlertView.evidence``): a spike's daily counts against the expected ones (a chart),
a repeat's addresses or masked phone, a hotspot's grids with their Gi* z and p, a risk's top factors. Every
value that came from users (titles, addresses, reasons, names) reaches Markdown through ``plain`` or sits in a
table cell; charts go through ``ui.charts.show``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.i18n import label, t, t_plain
from dashboard.kernel.formatting import moment, pct
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.reporting import alert_digest as digest
from dashboard.reporting.warning import store
from dashboard.reporting.warning.store import AlertView
from dashboard.territory.hotspot_map import p_text, z_text
from dashboard.ui import charts
from dashboard.ui.common import plain
from dashboard.ui.errors import run_action
from models.enums import AlertKind, AlertStatus

FLASH_KEY = "warning_flash"
DISMISS_KEY = "warning_dismiss"
"""Session key of the alert whose dismiss dialog is open."""
STATUS_BADGE = {
    AlertStatus.open: "orange",
    AlertStatus.supervised: "red",
    AlertStatus.project: "violet",
    AlertStatus.dismissed: "gray",
}
KIND_ICON = {
    AlertKind.spike: ":material/trending_up:",
    AlertKind.repeat: ":material/repeat:",
    AlertKind.hotspot: ":material/local_fire_department:",
    AlertKind.risk: ":material/timer:",
}


def flash() -> None:
    """The confirmation left by the last action (once)."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")


# ---------------------------------------------------------------- evidence


def _spike_chart(view: AlertView) -> None:
    daily = view.evidence.get("daily") or []
    if not daily:
        return
    days = [pd.Timestamp(d["day"]).date() for d in daily]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=days,
            y=[d.get("observed", 0) for d in daily],
            name=t_plain("warning.evidence.observed"),
            marker_color="#ef553b",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=days,
            y=[round(float(d.get("expected", 0.0)), 2) for d in daily],
            name=t_plain("warning.evidence.expected"),
            mode="lines+markers",
            line={"color": "#636efa", "dash": "dash"},
        )
    )
    fig.update_layout(
        height=220,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.15},
        yaxis_title=t_plain("warning.evidence.cases"),
        bargap=0.35,
    )
    charts.show(fig, key=f"alert_chart_{view.id}")


def _repeat_evidence(view: AlertView) -> None:
    """The addresses behind a building's repeat (masked to the building); a phone's or a case's repeat says
    all in its line of figures."""
    for address in view.evidence.get("addresses") or []:
        st.markdown(t("warning.evidence.address", address=str(address)))


def _hotspot_evidence(view: AlertView) -> None:
    grids = view.evidence.get("grids") or []
    if not grids:
        return
    st.dataframe(
        pd.DataFrame(
            {
                t_plain("warning.evidence.grid"): [f"{g.get('code', '')} {g.get('name', '')}" for g in grids],
                t_plain("warning.evidence.observed"): [int(g.get("count", 0)) for g in grids],
                t_plain("warning.evidence.expected"): [
                    digest.number(round(float(g.get("expected", 0.0)), 1)) for g in grids
                ],
                t_plain("warning.evidence.z"): [z_text(g.get("z")) for g in grids],
                t_plain("warning.evidence.p"): [p_text(g.get("p")) for g in grids],
            }
        ),
        hide_index=True,
        width="stretch",
        key=f"alert_grids_{view.id}",
    )


def _risk_evidence(view: AlertView) -> None:
    factors = view.evidence.get("factors") or []
    if not factors:
        return
    st.dataframe(
        pd.DataFrame(
            {
                t_plain("warning.evidence.factor"): [str(name) for name, _ in factors],
                t_plain("warning.evidence.contribution"): [f"{float(c) * 100:+.0f} %" for _, c in factors],
            }
        ),
        hide_index=True,
        width="stretch",
        key=f"alert_factors_{view.id}",
    )


_EVIDENCE = {
    AlertKind.spike: _spike_chart,
    AlertKind.repeat: _repeat_evidence,
    AlertKind.hotspot: _hotspot_evidence,
    AlertKind.risk: _risk_evidence,
}


# ---------------------------------------------------------------- cases


def cases_table(view: AlertView, cases: pd.DataFrame) -> None:
    """The alert's cases the reader may open, as links to the case page."""
    if cases.empty:
        st.caption(t("warning.no_cases"))
        return
    number = t_plain("queue.col_number")
    fresh = set((view.evidence.get("episode") or {}).get("new_cases") or [])
    table = pd.DataFrame(
        {
            **({t_plain("warning.evidence.new"): cases["id"].isin(fresh)} if fresh else {}),
            number: "case?case=" + cases["number"],
            t_plain("queue.col_title"): cases["title"],
            t_plain("queue.col_status"): cases["status"].map(lambda v: label("status", v)),
            t_plain("queue.col_grid"): cases["grid"],
            t_plain("queue.col_reported"): cases["reported_at"].map(moment),
            t_plain("queue.col_due"): cases["due_at"].map(moment),
            t_plain("queue.col_address"): cases["address"],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key=f"alert_cases_{view.id}",
        column_config={number: st.column_config.LinkColumn(display_text=r"case\?case=(.*)$")},
    )
    hidden = len(view.case_ids) - len(cases)
    if hidden > 0:
        st.caption(t("warning.cases_more", n=hidden))


# ---------------------------------------------------------------- actions


def _act(me: Actor, view: AlertView, action: str, reason: str | None = None) -> bool:
    ok, _ = run_action(lambda s: store.act_on(s, me, alert_id=view.id, action=action, reason=reason))
    if ok:
        st.session_state[FLASH_KEY] = t(f"warning.action.done_{action}", what=digest.headline(view))
        st.session_state.pop(DISMISS_KEY, None)
    return ok


def _forget_dismiss() -> None:
    st.session_state.pop(DISMISS_KEY, None)


def _dismiss_body(me: Actor, view: AlertView) -> None:
    st.markdown(plain(digest.headline(view)))
    reason = st.text_area(
        t("warning.action.reason") + " *",
        key=f"alert_reason_{view.id}",
        max_chars=500,
        placeholder=t_plain("warning.action.reason_placeholder"),
    )
    left, right = st.columns(2)
    if left.button(
        t("warning.action.confirm_dismiss"),
        key=f"alert_dismiss_ok_{view.id}",
        type="primary",
        width="stretch",
    ):
        if not reason.strip():
            st.error(t("warning.action.reason_required"))
        elif _act(me, view, "dismiss", reason.strip()):
            st.rerun()
    if right.button(t("warning.action.cancel"), key=f"alert_dismiss_cancel_{view.id}", width="stretch"):
        _forget_dismiss()
        st.rerun()


def _actions(me: Actor, view: AlertView) -> None:
    if view.status != AlertStatus.open:
        who = plain(view.acted_by or "—")
        st.caption(
            t(
                "warning.action.acted",
                status=t(f"warning.status.{view.status.value}"),
                who=who,
                at=moment(view.acted_at),
            )
        )
        if view.reason:
            st.caption(t("warning.action.acted_reason", reason=view.reason))
        return
    if not may(me, "alert.act"):
        return
    with st.container(horizontal=True, gap="small"):
        if st.button(
            t("warning.action.supervise"),
            key=f"alert_supervise_{view.id}",
            icon=":material/campaign:",
            type="primary",
            help=t("warning.action.supervise_help"),
        ) and _act(me, view, "supervise"):
            st.rerun()
        if st.button(
            t("warning.action.project"),
            key=f"alert_project_{view.id}",
            icon=":material/flag:",
            help=t("warning.action.project_help"),
        ) and _act(me, view, "project"):
            st.rerun()
        if st.button(
            t("warning.action.dismiss"),
            key=f"alert_dismiss_{view.id}",
            icon=":material/do_not_disturb_on:",
            help=t("warning.action.dismiss_help"),
        ):
            st.session_state[DISMISS_KEY] = view.id
    if st.session_state.get(DISMISS_KEY) == view.id:  # the dialog's title in the session's language
        dialog = st.dialog(
            t_plain("warning.action.dismiss_title"), width="medium", on_dismiss=_forget_dismiss
        )
        dialog(_dismiss_body)(me, view)


# ---------------------------------------------------------------- the card


def _facts(view: AlertView) -> str:
    """Observed against expected over which days, how unusual, since when, and a repeat's episode."""
    parts: list[Any] = []
    if view.kind in (AlertKind.spike, AlertKind.hotspot):
        figures = t_plain(
            "warning.observed_expected",
            observed=digest.number(view.observed),
            expected=digest.number(view.expected),
        )
        days = view.evidence.get("window_days")
        parts.append(t_plain("warning.window", n=int(days)) + figures if days else figures)
    parts.append(digest.strength(view))
    parts.append(t_plain("warning.since", since=f"{view.since:%Y-%m-%d}"))
    ep = view.evidence.get("episode") or {}
    if ep.get("state") in ("updated", "ongoing"):
        parts.append(
            t_plain(
                f"warning.episode.{ep['state']}",
                first=ep.get("first_day", ""),
                n=len(ep.get("new_cases", [])),
            )
        )
    return plain(" · ".join(str(p) for p in parts if p))


def alert_card(me: Actor, view: AlertView, cases: pd.DataFrame) -> None:
    """One alert in a bordered box: title line with its state, the figures, the evidence, the cases and the
    actions (or who acted, when and why)."""
    with st.container(border=True, key=f"alert_{view.id}"):
        head, badge = st.columns([5, 1], vertical_alignment="center")
        title = " · ".join(plain(x) for x in (digest.where(view), view.category_name or "") if x)
        head.markdown(f"{KIND_ICON[view.kind]} **{title}**")
        badge.badge(t_plain(f"warning.status.{view.status.value}"), color=STATUS_BADGE[view.status])
        st.caption(_facts(view))
        if view.kind == AlertKind.risk and view.evidence.get("due_at"):
            st.caption(f"{t('queue.col_due')}：{moment(pd.Timestamp(view.evidence['due_at']))}")
        _EVIDENCE[view.kind](view)
        with st.expander(t("warning.cases", n=len(view.case_ids)), icon=":material/list_alt:"):
            cases_table(view, cases)
        _actions(me, view)


def risk_text(probability: object) -> str:
    """A case's overdue risk for a table cell: '82%', '—' when it was not scored (None or NaN)."""
    return pct(probability, 0)
