"""One case (deep link ``?case=XL…``): its fields (personal data masked unless revealed, audited), the SLA
clock, the actions this user may take now, the full timeline, escalations, extensions, a small map and
suggested duplicates. A case outside the user's scope is "not found" — its data never reaches the page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.cases import ageing
from dashboard.cases import change as case_change
from dashboard.cases import intake as case_intake
from dashboard.cases import view as case_view
from dashboard.cases.view import CaseDetail
from dashboard.i18n import label, t
from dashboard.kernel import privacy
from dashboard.media import attachments
from dashboard.ui import cases as ui
from dashboard.ui import photo_views
from dashboard.ui.case_picker import case_picker
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import run_action
from dashboard.ui.resident_controls import resident_controls
from models.enums import ACTIVE_STATUSES, OPEN_STATUSES

me = actor()
page_title("case.title")
ui.flash()

# The number box follows the URL: a deep link or a switch from the queue fills it in.
url_number = st.query_params.get("case", "")
if st.session_state.get("case_url_last") != url_number:
    st.session_state["case_url_last"] = url_number
    st.session_state["case_no"] = url_number
number = st.text_input(t("case.search"), key="case_no", placeholder="XL20260309-0042", max_chars=24)
number = (number or "").strip().upper()
if not number:
    st.info(t("case.search_hint"), icon=":material/search:")
    if picked := case_picker(me, "case_pick"):
        st.query_params["case"] = picked
        st.rerun()
    st.stop()
if url_number != number:
    st.query_params["case"] = number
    st.session_state["case_url_last"] = number

now = clock.now()
with st.spinner(t("app.loading")), db_session() as s:
    case_id = case_view.find_case_id(s, me, number)
    detail = case_view.case_detail(s, me, case_id) if case_id is not None else None
    events = case_view.timeline(s, me, case_id) if detail is not None else []
    shown = attachments.photos_of(s, me, case_id=case_id) if detail is not None else []
    typical = attachments.is_typical(s, case_id=case_id) if detail is not None else False
    duplicates = (
        case_intake.find_duplicates(
            s, me, detail.category_id, detail.lon, detail.lat, detail.reported_at, exclude_id=detail.id
        )
        if detail is not None and detail.status in OPEN_STATUSES and detail.duplicate_of_id is None
        else []
    )
if detail is None:
    st.warning(t("case.not_found"), icon=":material/search_off:")
    st.stop()
d: CaseDetail = detail

# ---------------------------------------------------------------- header
running = d.status in ACTIVE_STATUSES
colour = ageing.colour_at(now, d.warn_at, d.due_at, d.black_at, closed=not running)
st.subheader(f"{d.number} · {plain(d.title)}")
badges = [
    f":blue-badge[{label('status', d.status)}]",
    ui.ageing_badge(colour.value if colour else None),
    f":gray-badge[{label('priority', d.priority)}]",
]
if d.supervised:
    badges.append(f":red-badge[{t('queue.flag_supervised')}]")
if d.escalation_level:
    badges.append(f":violet-badge[{label('escalation', d.escalation_level)}]")
st.markdown(" ".join(b for b in badges if b != "—"))
if d.duplicate_of:
    st.info(t("case.duplicate_of", number=d.duplicate_of), icon=":material/link:")
    if st.button(t("case.open_case", number=d.duplicate_of), key="open_original"):
        st.switch_page(ui.CASE_PAGE, query_params={"case": d.duplicate_of})

# ---------------------------------------------------------------- actions
allowed = case_change.allowed_actions(me, d.state)
ui.action_buttons(d, me, allowed)
if "resolve" not in allowed and d.status.value == "in_progress" and d.state.pending_escalations:
    st.caption(t("case.waiting_departments", count=len(d.state.pending_escalations)))
resident_controls(me, d)

# ---------------------------------------------------------------- fields, clock, map
left, right = st.columns([3, 2])
revealed = bool(st.session_state.get(f"pii_{d.id}"))


def _field(key: str, value: object) -> None:
    text = "—" if value is None or value == "" else str(value)
    left.markdown(f"**{t(key)}**　{plain(text)}")


with left:
    if d.reporter_anonymous:
        _field("case.reporter", t("case.anonymous"))
    else:
        _field("case.reporter", d.reporter_name if revealed else privacy.mask_name(d.reporter_name))
        _field("case.phone", d.reporter_phone if revealed else privacy.mask_phone(d.reporter_phone))
    _field("case.address", d.address if revealed else privacy.mask_address(d.address))
    if privacy.can_reveal(me, "case") and not revealed and (d.reporter_name or d.reporter_phone or d.address):
        if left.button(t("app.show_pii"), key="show_pii", icon=":material/visibility:"):
            ok, _ = run_action(privacy.reveal, me, "case", d.number)
            if ok:
                st.session_state[f"pii_{d.id}"] = True
                st.rerun()
    elif revealed:
        left.caption(t("app.pii_shown"))
    _field("case.category", ui.category_name(d.category_zh, d.category_en))
    _field("case.source", label("source", d.source) + (f" ({d.external_id})" if d.external_id else ""))
    _field("case.grid", f"{d.grid_code} {d.grid_name} · {d.community}")
    _field("case.handler", " / ".join(x for x in (d.assignee, d.department) if x) or "—")
    _field("case.reported_at", ui.fmt_dt(d.reported_at))
    for key, value in (
        ("case.accepted_at", d.accepted_at),
        ("case.dispatched_at", d.dispatched_at),
        ("case.resolved_at", d.resolved_at),
        ("case.verified_at", d.verified_at),
        ("case.closed_at", d.closed_at),
    ):
        if value is not None:
            _field(key, ui.fmt_dt(value))
    if d.satisfaction:
        _field("case.satisfaction", label("satisfaction", d.satisfaction))
    if d.solved is not None:
        _field("case.solved", t("app.yes") if d.solved else t("app.no"))
    left.markdown(f"**{t('case.description')}**")
    left.text(d.description or "—")

with right:
    st.metric(t("case.due"), ui.fmt_dt(d.due_at), border=True)
    if running:
        st.markdown(
            f"{ui.ageing_badge(colour.value if colour else None)}　{plain(ui.clock_text(d.due_at, now, True))}"
        )
    st.caption(
        t(
            "case.limit",
            limit=f"{d.sla_limit:g}",
            unit=label("calendar", d.calendar),
            response=ui.fmt_dt(d.response_due_at),
            ext=d.extension_count,
            rework=d.rework_count,
        )
    )
    ui.case_map(d)

photo_views.case_section(
    me,
    d.id,
    d.version,
    shown,
    located=d.lon is not None and d.lat is not None,
    typical=typical,
    may_add="comment" in allowed,
)
per_event = photo_views.photos_per_event(shown)

# ---------------------------------------------------------------- timeline and the rest
tabs = st.tabs(
    [
        t("case.timeline") + f" ({len(events)})",
        t("case.escalations") + f" ({len(d.escalations)})",
        t("case.extensions") + f" ({len(d.extensions)})",
        t("case.duplicates") + f" ({len(duplicates)})",
    ]
)
with tabs[0]:
    st.dataframe(
        pd.DataFrame(
            {
                t("timeline.at"): [ui.fmt_dt(e.at) for e in events],
                t("timeline.actor"): [e.actor or "—" for e in events],
                t("timeline.action"): [ui.action_label(e.action) for e in events],
                t("timeline.status"): [
                    f"{label('status', e.from_status) if e.from_status else '∅'} → {label('status', e.to_status)}"
                    if e.to_status and e.to_status != e.from_status
                    else ""
                    for e in events
                ],
                t("timeline.note"): [e.note for e in events],
                t("timeline.detail"): [case_view.event_summary(e.action, e.payload) for e in events],
                t("photos.column"): [
                    photo_views.event_photos_text(per_event.get(e.event_id, 0)) for e in events
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        key="timeline_table",
    )
with tabs[1]:
    if not d.escalations:
        st.caption(t("case.no_escalations"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("dept.col_department"): [e.department for e in d.escalations],
                    t("dept.col_level"): [label("escalation", e.level) for e in d.escalations],
                    t("dept.col_escalated_at"): [ui.fmt_dt(e.escalated_at) for e in d.escalations],
                    t("dept.col_due"): [ui.fmt_dt(e.due_at) for e in d.escalations],
                    t("dept.col_state"): [
                        t("dept.state_done")
                        if e.reported_back_at
                        else (
                            t("dept.state_overdue")
                            if e.due_at and e.due_at <= now
                            else t("dept.state_pending")
                        )
                        for e in d.escalations
                    ],
                    t("dept.col_reported_at"): [ui.fmt_dt(e.reported_back_at) for e in d.escalations],
                    t("dept.col_report"): [e.report for e in d.escalations],
                }
            ),
            hide_index=True,
            width="stretch",
            key="escalation_table",
        )
with tabs[2]:
    if not d.extensions:
        st.caption(t("case.no_extensions"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("case.ext_requested"): [
                        f"{ui.fmt_dt(x.requested_at)} {x.requested_by}" for x in d.extensions
                    ],
                    t("case.ext_amount"): [
                        f"{x.amount:g} {label('calendar', d.calendar)}" for x in d.extensions
                    ],
                    t("case.ext_reason"): [x.reason for x in d.extensions],
                    t("case.ext_decision"): [t(f"case.ext_{x.decision}") for x in d.extensions],
                    t("case.ext_decided"): [
                        f"{ui.fmt_dt(x.decided_at)} {x.decided_by}" if x.decided_at else ""
                        for x in d.extensions
                    ],
                    t("case.ext_new_due"): [
                        ui.fmt_dt(x.new_due_at) if x.new_due_at else "" for x in d.extensions
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
            key="extension_table",
        )
with tabs[3]:
    if not duplicates:
        st.caption(t("case.no_duplicates"))
    else:
        st.caption(t("case.duplicates_hint"))
        for h in duplicates:
            c1, c2 = st.columns([4, 1])
            c1.markdown(
                f"**{h.number}** · {plain(h.title)} · {label('status', h.status)} · "
                f"{ui.fmt_dt(h.reported_at)} · {t('case.metres', m=f'{h.distance_m:.0f}')}"
            )
            if c2.button(t("case.open"), key=f"dup_{h.id}"):
                st.switch_page(ui.CASE_PAGE, query_params={"case": h.number})
