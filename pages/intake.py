"""New case (登记): one form that works on a phone. The place is picked by building or courtyard (the grid,
the point and the start of the address follow), or the grid is chosen or found from typed coordinates (under
"手动输入坐标"); input is checked with clear messages (what was typed stays), possible duplicates are shown
before saving, and the new case number is shown after."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import intake as case_intake
from dashboard.cases.change import CaseRef
from dashboard.cases.intake import ADDRESS_MAX, DESCRIPTION_MAX, NAME_MAX, TITLE_MAX, NewCase
from dashboard.config import get_settings
from dashboard.i18n import label, t
from dashboard.kernel.errors import DomainError
from dashboard.kernel.scope import Actor
from dashboard.territory import lookups
from dashboard.ui import cases as ui
from dashboard.ui import maps, photos
from dashboard.ui.common import actor, db_session, page_title
from dashboard.ui.errors import run_action, show_error
from models.enums import AttachmentKind, CaseSource, Priority, Role

me = actor()
page_title("intake.title", t("intake.caption"))
look = ui.current_lookups()
CATS = {cid: ui.category_name(zh, en) for cid, _code, zh, en, _ in look["categories"]}
GRIDS = {gid: f"{code} {name}" for gid, code, name, _ in look["grids"]}
if me.role == Role.grid_worker:
    GRIDS = {gid: name for gid, name in GRIDS.items() if gid == me.grid_id}
    SOURCES = [CaseSource.grid_visit, CaseSource.proxy]
else:
    if me.role == Role.community:
        GRIDS = {gid: f"{code} {name}" for gid, code, name, comm in look["grids"] if comm == me.community_id}
    SOURCES = [
        CaseSource.hotline,
        CaseSource.walk_in,
        CaseSource.proxy,
        CaseSource.online,
        CaseSource.assigned,
        CaseSource.grid_visit,
    ]


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def _buildings(me: Actor, url: str) -> list[dict[str, object]]:
    """The buildings in the user's grids: id, point and the picker's text (name · grid · community)."""
    with db_session() as s:
        rows = lookups.buildings(s, me)
    return [
        {"id": int(r.id), "lon": r.lon, "lat": r.lat, "tip": f"{r.name} · {r.grid_code} {r.community}"}
        for r in rows.itertuples()
        if int(r.grid_id) in GRIDS
    ]


PLACES = _buildings(me, get_settings().database_url)
BUILDINGS = {int(b["id"]): str(b["tip"]) for b in PLACES}  # type: ignore[call-overload]

saved = st.session_state.get("intake_saved")
if saved:
    st.success(t("intake.saved", number=saved), icon=":material/check_circle:")
    if st.button(t("intake.open_saved", number=saved), key="intake_open", type="primary"):
        st.session_state.pop("intake_saved", None)
        st.switch_page(ui.CASE_PAGE, query_params={"case": saved})

form_no = st.session_state.setdefault("intake_form_no", 0)
k = f"intake{form_no}_"
if PLACES:
    with st.expander(t("intake.map_pick"), icon=":material/map:"):
        clicked = st.pydeck_chart(
            maps.buildings_deck(PLACES),
            height=320,
            key=f"intake_map_{form_no}",
            on_select="rerun",
            selection_mode="single-object",
        )
        objects = clicked.selection.get("objects", {}) if clicked else {}  # type: ignore[union-attr]
        hit = (objects.get("buildings") or [None])[0]
        if hit and st.session_state.get("intake_map_hit") != (form_no, hit.get("id")):
            # a new click picks that building in the form below (until the user picks another)
            st.session_state["intake_map_hit"] = (form_no, hit.get("id"))
            if hit.get("id") in BUILDINGS:
                st.session_state[k + "building"] = hit["id"]
        st.caption(t("intake.map_pick_hint"))
photo_key = k + "photos"
chosen = photos.capture(photo_key, camera=False)
photo_point = photos.location_choice(photo_key, chosen, GRIDS)
with st.form(f"intake_form_{form_no}", border=True):
    category = st.selectbox(
        t("casefield.category") + " *",
        list(CATS),
        index=None,
        key=k + "category",
        format_func=CATS.get,
        placeholder=t("intake.choose"),
    )
    source = st.selectbox(
        t("casefield.source") + " *", SOURCES, key=k + "source", format_func=lambda v: label("source", v)
    )
    title = st.text_input(
        t("casefield.title") + " *", key=k + "title", max_chars=TITLE_MAX, placeholder=t("intake.title_hint")
    )
    description = st.text_area(
        t("casefield.description"), key=k + "description", max_chars=DESCRIPTION_MAX, height=110
    )
    building = st.selectbox(
        t("casefield.building"),
        [None, *BUILDINGS],
        key=k + "building",
        format_func=lambda b: t("intake.no_building") if b is None else BUILDINGS[b],
        placeholder=t("intake.building_hint"),
        help=t("intake.building_help"),
    )
    grid_options: list[int | None] = [None, *GRIDS]
    grid = st.selectbox(
        t("casefield.grid"),
        grid_options,
        key=k + "grid",
        index=grid_options.index(me.grid_id) if me.grid_id in grid_options else 0,
        format_func=lambda g: t("intake.grid_from_point") if g is None else GRIDS[g],
    )
    with st.expander(t("intake.manual_coords"), icon=":material/my_location:"):
        c1, c2 = st.columns(2)
        lon = c1.number_input(
            t("intake.lon"),
            value=None,
            min_value=-180.0,
            max_value=180.0,
            format="%.6f",
            key=k + "lon",
            placeholder="118.280000",
        )
        lat = c2.number_input(
            t("intake.lat"),
            value=None,
            min_value=-90.0,
            max_value=90.0,
            format="%.6f",
            key=k + "lat",
            placeholder="33.960000",
        )
    address = st.text_input(
        t("casefield.address"), key=k + "address", max_chars=ADDRESS_MAX, help=t("intake.address_help")
    )
    anonymous = st.checkbox(t("casefield.anonymous"), key=k + "anonymous")
    name = st.text_input(t("casefield.reporter_name"), key=k + "name", max_chars=NAME_MAX)
    phone = st.text_input(
        t("casefield.reporter_phone"), key=k + "phone", max_chars=20, placeholder="13812345678"
    )
    st.caption(t("intake.contact_hint"))
    with st.expander(t("intake.more")):
        priority = st.selectbox(
            t("casefield.priority"),
            [None, *Priority],
            key=k + "priority",
            format_func=lambda v: t("intake.priority_default") if v is None else label("priority", v),
            placeholder=t("intake.priority_default"),
        )
        external = st.text_input(t("intake.external_id"), key=k + "external", max_chars=64)
        limit = st.number_input(
            t("intake.limit"),
            value=None,
            min_value=0.5,
            max_value=365.0,
            step=0.5,
            key=k + "limit",
            help=t("intake.limit_help"),
        )
    submitted = st.form_submit_button(t("intake.submit"), type="primary", width="stretch", key=k + "submit")


def _create(s: Session, data: NewCase) -> CaseRef:
    """The new case and its report photos (one unit of work)."""
    ref = case_intake.create_case(s, me, data)
    photos.save(s, me, chosen, case_id=ref.id, kind=AttachmentKind.report, event_id=ref.event_id)
    return ref


def _save(data: NewCase) -> None:
    ok, ref = run_action(_create, data)
    if not ok:
        return
    photos.clear(photo_key)
    st.session_state.pop("intake_pending", None)
    st.session_state["intake_saved"] = ref.number
    st.session_state["intake_form_no"] = form_no + 1  # a fresh, empty form
    st.rerun()


if submitted:
    st.session_state.pop("intake_saved", None)
    if photo_point is not None and lon is None and lat is None and building is None:
        lon, lat = photo_point  # the user took the point of a photo for the case's location
    data = NewCase(
        category_id=category,
        title=title,
        source=source,
        description=description,
        grid_id=grid,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=name,
        reporter_phone=phone,
        anonymous=anonymous,
        priority=priority,
        external_id=external,
        limit=limit,
        building_id=building,
    )
    try:
        with db_session() as s:
            clean = case_intake.validate_new_case(s, me, data)
            hints = case_intake.find_duplicates(s, me, clean.category_id, clean.lon, clean.lat, clock.now())  # type: ignore[arg-type]
    except DomainError as err:
        show_error(err)
        hints = None
    if hints == []:
        _save(data)
    elif hints:
        st.session_state["intake_pending"] = (
            data,
            [(h.number, h.title, h.distance_m, h.reported_at) for h in hints],
        )

pending = st.session_state.get("intake_pending")
if pending:
    data, hints = pending
    ui.duplicate_list(hints)
    b1, b2 = st.columns(2)
    if b1.button(t("intake.save_anyway"), key="intake_confirm", type="primary", width="stretch"):
        _save(data)
    if b2.button(t("app.cancel"), key="intake_cancel", width="stretch"):
        st.session_state.pop("intake_pending", None)
        st.rerun()
