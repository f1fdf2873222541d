"""Record a visit (走访), one-handed on a phone: the building (longest unvisited first), households, whom I
met, the groups concerned, a note — saved in one tap. "Needs a case" goes on to quick intake with the
building and note filled in, and the new case is linked to this visit. A visit ends a blind spot at once."""

from __future__ import annotations

import streamlit as st

from dashboard.i18n import t
from dashboard.kernel.errors import DomainError
from dashboard.territory import visits
from dashboard.territory.visits import VisitInput
from dashboard.ui import cases as case_ui
from dashboard.ui import field as ui
from dashboard.ui import photos
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import run_action, show_error

me = actor()
ui.phone_css()
page_title("field.visit", t("field.visit_caption"))
case_ui.flash()

try:
    buildings = ui.current_buildings(me)
except DomainError as err:
    show_error(err)
    st.stop()
NAMES = {bid: name for bid, name, _, _ in buildings}
LABELS = {bid: f"{name} · {ui.days_text(days)}" for bid, name, _, days in buildings}
options: list[int | None] = [*NAMES, None]
wanted = st.session_state.pop(ui.VISIT_BUILDING_KEY, None)

if wanted in NAMES:  # a fresh form with the building tapped on in My grid
    st.session_state["visit_form_no"] = st.session_state.get("visit_form_no", 0) + 1
form_no = st.session_state.setdefault("visit_form_no", 0)
k = f"visit{form_no}_"
photo_key = k + "photos"
chosen = photos.capture(photo_key)
if chosen:
    st.caption(t("photos.visit_hint"))
with st.form(f"visit_form_{form_no}", border=True):
    building = st.selectbox(
        t("field.building"),
        options,
        index=options.index(wanted) if wanted in NAMES else 0,
        key=k + "building",
        format_func=lambda b: t("field.whole_grid") if b is None else LABELS[b],
    )
    households = st.number_input(
        t("field.households_visited"),
        min_value=0,
        max_value=visits.HOUSEHOLDS_MAX,
        value=1,
        step=1,
        key=k + "households",
    )
    met = st.pills(
        t("field.met"),
        list(visits.MET_OPTIONS),
        default=visits.MET_OPTIONS[0],
        required=True,
        format_func=ui.met_label,
        key=k + "met",
    )
    groups = st.pills(
        t("field.groups"),
        list(visits.VISIT_GROUPS),
        selection_mode="multi",
        format_func=ui.group_label,
        key=k + "groups",
    )
    note = st.text_area(
        t("field.note"),
        key=k + "note",
        max_chars=visits.NOTE_MAX,
        height=100,
        placeholder=t("field.note_hint"),
    )
    needs_case = st.toggle(t("field.needs_case"), key=k + "needs_case")
    submitted = st.form_submit_button(
        t("field.save_visit"), type="primary", width="stretch", key=k + "submit", icon=":material/check:"
    )

if submitted:
    data = VisitInput(
        building_id=building,
        households_visited=int(households or 0),
        met=met or "",
        groups=tuple(groups or ()),
        note=note or "",
    )
    ok, visit_id = run_action(visits.record_visit, me, data)
    if ok:
        ui.clear_caches(me)
        place = NAMES.get(building, t("field.whole_grid")) if building is not None else t("field.whole_grid")
        st.session_state["visit_form_no"] = form_no + 1
        photos.clear(photo_key)
        if needs_case:
            st.session_state[ui.PREFILL_KEY] = {
                "visit_id": visit_id,
                "building_id": building,
                "description": (note or "").strip(),
                "photos": chosen,  # the report photos of the case recorded next
            }
            st.session_state[ui.FLASH_KEY] = t("field.visit_saved_case", place=place)
            st.switch_page(ui.QUICK_INTAKE)
        st.session_state[ui.FLASH_KEY] = t("field.visit_saved", place=place)
        st.rerun()

# ---------------------------------------------------------------- my latest visits
with db_session() as s:
    recent = visits.recent_visits(s, me, limit=5)
st.subheader(t("field.recent_visits"))
if not recent:
    st.caption(t("field.no_visits"))
for v in recent:
    with st.container(border=True, key=f"visit_card_{v.id}"):
        place = plain(v.building) if v.building else t("field.whole_grid")
        st.markdown(f"**{place}** · {ui.fmt_dt(v.at)}")
        parts = [plain(ui.met_label(v.met)), t("field.households", n=v.households_visited)]
        parts += [plain(ui.group_label(g)) for g in v.groups]
        if v.case_number:
            parts.append(t("field.case_linked", number=v.case_number))
        st.caption(" · ".join(parts))  # each part escaped: by plain() or, for its values, by t()
        if v.note:
            st.text(v.note)
