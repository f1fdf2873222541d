"""Quick intake (代录) for a grid worker on a phone: on a resident's behalf or found on the round; category from
big buttons, what happened, the building (optional: the grid is the location by default), the resident's
name and phone for the follow-up call. The same validation, duplicate check and service as the full
intake; opened from a visit it comes prefilled and the new case is linked to the visit."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import intake as case_intake
from dashboard.cases.change import CaseRef
from dashboard.cases.errors import InvalidInput
from dashboard.cases.intake import DESCRIPTION_MAX, NAME_MAX, NewCase
from dashboard.i18n import t
from dashboard.kernel.errors import DomainError
from dashboard.territory import quick_intake, visits
from dashboard.ui import cases as case_ui
from dashboard.ui import field as ui
from dashboard.ui import photos
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import run_action, show_error
from models.enums import AttachmentKind

me = actor()
ui.phone_css()
page_title("field.quick_intake", t("field.quick_caption"))
case_ui.flash()

look = case_ui.current_lookups()
CATS = {cid: (code, case_ui.category_name(zh, en)) for cid, code, zh, en, _ in look["categories"]}
BY_CODE = {code: cid for cid, (code, _) in CATS.items()}
QUICK = [BY_CODE[c] for c in quick_intake.QUICK_CATEGORIES if c in BY_CODE]
MORE = -1  # the "more categories" button
try:
    buildings = ui.current_buildings(me)
except DomainError as err:
    show_error(err)
    st.stop()
NAMES = {bid: name for bid, name, _, _ in buildings}
prefill = st.session_state.get(ui.PREFILL_KEY) or {}

saved = st.session_state.get("quick_saved")
if saved:
    st.success(t("field.case_saved", number=saved), icon=":material/check_circle:")
    with st.container(horizontal=True, gap="small", key="quick_saved_actions"):
        if st.button(t("field.open_case"), key="quick_open", type="primary", width="stretch"):
            st.session_state.pop("quick_saved", None)
            st.switch_page(case_ui.CASE_PAGE, query_params={"case": saved})
        if st.button(t("field.back_to_grid"), key="quick_back", width="stretch"):
            st.session_state.pop("quick_saved", None)
            st.switch_page(ui.MY_GRID)
elif prefill.get("visit_id"):
    where = NAMES.get(prefill.get("building_id"), t("field.whole_grid"))
    st.info(t("field.from_visit", place=where), icon=":material/directions_walk:")

form_no = st.session_state.setdefault("quick_form_no", 0)
k = f"quick{form_no}_"
source = st.segmented_control(
    t("field.quick_source"),
    list(quick_intake.QUICK_SOURCES),
    default=quick_intake.QUICK_SOURCES[0],
    required=True,
    format_func=lambda v: t(f"field.source_{v}"),
    key=k + "source",
    width="stretch",
)
pick = st.pills(
    t("casefield.category") + " *",
    [*QUICK, MORE],
    key=k + "pick",
    format_func=lambda c: t("field.more_categories") if c == MORE else plain(CATS[c][1]),  # pills: Markdown
)
category = pick
if pick == MORE:
    category = st.selectbox(
        t("field.all_categories"),
        list(CATS),
        index=None,
        key=k + "category",
        placeholder=t("intake.choose"),
        format_func=lambda c: f"{CATS[c][0]} {CATS[c][1]}",
    )
description = st.text_area(
    t("field.what_happened") + " *",
    key=k + "description",
    max_chars=DESCRIPTION_MAX,
    height=110,
    value=prefill.get("description", ""),
    placeholder=t("field.what_hint"),
)
b_options: list[int | None] = [None, *NAMES]
b_default = prefill.get("building_id")
building = st.selectbox(
    t("field.building"),
    b_options,
    key=k + "building",
    index=b_options.index(b_default) if b_default in b_options else 0,
    format_func=lambda b: t("field.grid_location") if b is None else NAMES[b],
)
place = st.text_input(t("field.place"), key=k + "place", max_chars=80, placeholder=t("field.place_hint"))
anonymous = st.checkbox(t("casefield.anonymous"), key=k + "anonymous")
if not anonymous:
    name = st.text_input(t("casefield.reporter_name"), key=k + "name", max_chars=NAME_MAX)
    phone = st.text_input(
        t("casefield.reporter_phone"), key=k + "phone", max_chars=20, placeholder="13812345678"
    )
    st.caption(t("field.contact_hint") if source == "proxy" else t("field.contact_optional"))
else:
    name = phone = ""
photo_key = k + "photos"
if prefill.get("photos") and not st.session_state.get(photo_key + "_preset"):
    photos.preset(photo_key, prefill["photos"])  # taken on the visit this case comes from
    st.session_state[photo_key + "_preset"] = True
chosen = photos.capture(photo_key)
own_grid = {gid: f"{code} {gname}" for gid, code, gname, _ in look["grids"] if gid == me.grid_id}
photo_point = photos.location_choice(photo_key, chosen, own_grid) if building is None else None
submitted = st.button(
    t("field.submit_case"), key=k + "submit", type="primary", width="stretch", icon=":material/send:"
)


def _create(s: Session, data: NewCase) -> CaseRef:
    """The new case with its photos, linked to the visit it was found on (one unit of work)."""
    ref = case_intake.create_case(s, me, data)
    photos.save(s, me, chosen, case_id=ref.id, kind=AttachmentKind.report, event_id=ref.event_id)
    if prefill.get("visit_id"):
        visits.link_visit_case(s, me, int(prefill["visit_id"]), ref.id)
    return ref


def _save(data: NewCase) -> None:
    ok, ref = run_action(_create, data)
    if not ok:
        return
    ui.clear_caches(me)
    photos.clear(photo_key)
    st.session_state.pop("quick_pending", None)
    st.session_state.pop(ui.PREFILL_KEY, None)
    st.session_state["quick_saved"] = ref.number
    st.session_state["quick_form_no"] = form_no + 1  # a fresh, empty form
    st.rerun()


if submitted:
    st.session_state.pop("quick_saved", None)
    try:
        with db_session() as s:
            data = quick_intake.quick_case(
                s,
                me,
                category_id=category if category != MORE else None,
                description=description or "",
                source=source or quick_intake.QUICK_SOURCES[0],
                building_id=building,
                place=place or "",
                reporter_name=name or "",
                reporter_phone=phone or "",
                anonymous=anonymous,
            )
            if photo_point is not None:  # the user took the point of a photo for the case's location
                data = replace(data, lon=photo_point[0], lat=photo_point[1])
            clean = case_intake.validate_new_case(s, me, data)
            hints = case_intake.find_duplicates(s, me, clean.category_id, clean.lon, clean.lat, clock.now())  # type: ignore[arg-type]
    except InvalidInput as err:  # the title is made from the description: name the field the form has
        show_error(InvalidInput({"description" if f == "title" else f: k for f, k in err.problems.items()}))
        hints = None
    except DomainError as err:
        show_error(err)
        hints = None
    if hints == []:
        _save(data)
    elif hints:
        st.session_state["quick_pending"] = (
            data,
            [(h.number, h.title, h.distance_m, h.reported_at) for h in hints],
        )

pending = st.session_state.get("quick_pending")
if pending:
    data, hints = pending
    case_ui.duplicate_list(hints)
    with st.container(horizontal=True, gap="small", key="quick_dup_actions"):
        if st.button(t("intake.save_anyway"), key="quick_confirm", type="primary", width="stretch"):
            _save(data)
        if st.button(t("app.cancel"), key="quick_cancel", width="stretch"):
            st.session_state.pop("quick_pending", None)
            st.rerun()
