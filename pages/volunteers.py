"""Volunteer registry: search and filter (paginated in SQL), masked personal data with an audited "show",
add / edit / deactivate for the volunteer service station, export. ``?grid=CODE`` / ``?community=CODE``
pre-filter (the map links here)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard import clock
from dashboard.i18n import current_lang, label, t, t_plain
from dashboard.io import exports
from dashboard.kernel import privacy
from dashboard.kernel.errors import Invalid
from dashboard.kernel.formatting import moment
from dashboard.kernel.policy import may
from dashboard.ui import volunteers as ui
from dashboard.ui.common import actor, db_session, page_title
from dashboard.ui.errors import run_action
from dashboard.volunteers import registry

PAGE_SIZE = 50
KEY = "volreg"

me = actor()
page_title("vol.registry", t("vol.registry_caption"))
flash = st.session_state.pop(f"{KEY}_flash", None)
if flash:
    st.success(flash)
LANG = current_lang()
look = ui.current_lookups(me)
comms, grids, units = look["communities"], look["grids"], look["units"]

# ---------------------------------------------------------------- query parameters pre-fill the filters once
qp_state = (st.query_params.get("grid"), st.query_params.get("community"))
if st.session_state.get(f"{KEY}_qp") != qp_state:
    st.session_state[f"{KEY}_qp"] = qp_state
    grid_code, comm_code = qp_state
    with db_session() as s:
        gid = registry.grid_by_code(s, me, grid_code) if grid_code else None
        cid = registry.community_by_code(s, comm_code) if comm_code else None
    if grid_code and gid is None:
        st.warning(t("vol.grid_not_in_scope", code=grid_code))
    if gid is not None:
        cid = int(grids.loc[grids["id"] == gid, "community_id"].iloc[0])
    st.session_state[f"{KEY}_community"] = cid if cid in set(comms["id"]) else None
    st.session_state[f"{KEY}_grid"] = gid

# ---------------------------------------------------------------- filters
c1, c2, c3, c4 = st.columns([2, 1.4, 1.6, 1.2])
text = c1.text_input(t("vol.search"), key=f"{KEY}_text", placeholder=ui.search_hint(me), max_chars=40)
community_id = c2.selectbox(
    t("vol.community"),
    [None, *comms["id"].tolist()],
    key=f"{KEY}_community",
    format_func=ui.community_label(comms),
    placeholder=t("app.all"),
)
grid_choices = grids if community_id is None else grids[grids["community_id"] == community_id]
if st.session_state.get(f"{KEY}_grid") not in set(grid_choices["id"]):
    st.session_state[f"{KEY}_grid"] = None
grid_id = c3.selectbox(
    t("vol.grid"),
    [None, *grid_choices["id"].tolist()],
    key=f"{KEY}_grid",
    format_func=ui.grid_label(grids),
    placeholder=t("app.all"),
)
status = c4.selectbox(
    t("vol.status"),
    ["all", "active", "dormant", "inactive"],
    key=f"{KEY}_status",
    format_func=lambda v: t(f"vol.status_{v}"),
)
c5, c6, c7 = st.columns([1.4, 1.4, 2])
skill = c5.selectbox(
    t("vol.skill_label"),
    [None, *ui.SKILL_OPTIONS],
    key=f"{KEY}_skill",
    format_func=ui.skill_label,
    placeholder=t("app.all"),
)
party_kind = c6.selectbox(
    t("vol.party_kind"),
    [None, *ui.PARTY_KINDS],
    key=f"{KEY}_party",
    format_func=ui.party_kind_label,
    placeholder=t("app.all"),
)
unit_id = c7.selectbox(
    t("vol.employer"),
    [None, *units["id"].tolist()],
    key=f"{KEY}_unit",
    format_func=lambda u: t("app.all") if u is None else ui.unit_label(units)(u),
    placeholder=t("app.all"),
)

query = registry.VolunteerQuery(
    text=text.strip(),
    community_id=community_id,
    grid_id=grid_id,
    skill=skill,
    party_kind=party_kind,
    employer_unit_id=unit_id,
    status=status,
)
page_no = ui.reset_page_on_change(KEY, query)

# Unmasked rows are kept for exactly this query and page: the "show" action is audited once, and paging
# or filtering returns to masked data.
shown = st.session_state.get(f"{KEY}_shown")
if shown is not None and shown[0] != (query, page_no):
    st.session_state.pop(f"{KEY}_shown")
    shown = None
if shown is not None:
    result = shown[1]
else:
    with db_session() as s:
        result = registry.list_volunteers(s, me, query, page=page_no, page_size=PAGE_SIZE)
st.session_state[KEY] = result.page


def _status(row: pd.Series) -> str:
    if not row["active"]:
        return t("vol.status_inactive", LANG)
    return t("vol.status_active", LANG) if row["recently_active"] else t("vol.status_dormant", LANG)


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ID": rows["id"],
            t("vol.name", LANG): rows["name"],
            t("vol.phone", LANG): rows["phone"],
            t("vol.grid", LANG): rows["grid_code"] + " " + rows["grid_name"],
            t("vol.community", LANG): rows["community_name"],
            t("vol.skills", LANG): rows["skills"].map(ui.skills_text),
            t("vol.party_kind", LANG): rows["party_kind"].map(lambda k: label("party_kind", k, LANG)),
            t("vol.employer", LANG): rows["employer_unit"].fillna(""),
            t("vol.registered_at", LANG): rows["registered_at"],
            t("vol.last_service", LANG): rows["last_service_at"].map(
                lambda v: moment(v, "%Y-%m-%d", t_plain("vol.never_served", LANG))
            ),
            t("vol.hours_90d", LANG): rows["hours_90d"],
            t("vol.status", LANG): rows.apply(_status, axis=1) if len(rows) else pd.Series(dtype=str),
        }
    )


m1, m2 = st.columns([3, 2])
m1.caption(t("vol.found", n=f"{result.total:,}"))
if result.total == 0:
    st.info(t("vol.none"))
else:
    st.dataframe(
        _table(result.rows),
        hide_index=True,
        width="stretch",
        key=f"{KEY}_table",
        column_config={
            t("vol.registered_at"): st.column_config.DateColumn(format="YYYY-MM-DD"),
            t("vol.hours_90d"): st.column_config.NumberColumn(format="%.1f"),
        },
    )
    ui.pager(result.total, result.pages, result.page, KEY)

b1, b2, b3 = st.columns([1.3, 1.3, 3])
if privacy.can_reveal(me, "volunteer") and result.total:
    if shown is None:
        if b1.button(t("app.show_pii"), key=f"{KEY}_show", icon=":material/visibility:"):
            ok, unmasked = run_action(  # audited as view_pii
                registry.list_volunteers, me, query, page=result.page, page_size=PAGE_SIZE, unmask=True
            )
            if ok:
                st.session_state[f"{KEY}_shown"] = ((query, unmasked.page), unmasked)
                st.rerun()
    else:
        b1.caption(t("app.pii_shown"))
        if b1.button(t("vol.hide_pii"), key=f"{KEY}_hide", icon=":material/visibility_off:"):
            st.session_state.pop(f"{KEY}_shown", None)
            st.rerun()

unmasked_export = False
if exports.may_export_unmasked(me):
    unmasked_export = b3.checkbox(t("privacy.export_unmasked"), key=f"{KEY}_export_unmasked")
HEADERS = {
    "id": "ID",
    "name": t("vol.name", LANG),
    "phone": t("vol.phone", LANG),
    "gender": t("vol.gender", LANG),
    "birth_year": t("vol.birth_year", LANG),
    "grid_code": t("vol.grid_code", LANG),
    "grid_name": t("vol.grid", LANG),
    "community_name": t("vol.community", LANG),
    "political_status": t("vol.political", LANG),
    "party_kind": t("vol.party_kind", LANG),
    "employer_unit": t("vol.employer", LANG),
    "registered_at": t("vol.registered_at", LANG),
    "active": t("vol.active_flag", LANG),
    "recently_active": t("vol.recently_active", LANG),
    "skills": t("vol.skills", LANG),
}


def _export() -> bytes:
    """Runs when the download button is pressed (on another thread): builds the file and audits it."""
    with db_session() as s:
        return registry.export_volunteers(s, me, query, unmasked=unmasked_export, headers=HEADERS)


b2.download_button(
    t("app.download_csv"),
    data=_export,
    file_name=f"volunteers-{clock.now():%Y%m%d}.csv",
    mime=exports.CSV_MIME,
    key=f"{KEY}_export",
    icon=":material/download:",
    disabled=result.total == 0,
    on_click="ignore",
)

# ---------------------------------------------------------------- add / edit / deactivate
if not may(me, "volunteer.edit"):
    st.stop()

st.divider()
st.subheader(t("vol.manage"))
mode = (
    st.segmented_control(
        t("vol.manage"),
        ["add", "edit"],
        default="add",
        key=f"{KEY}_mode",
        format_func=lambda m: t(f"vol.mode_{m}"),
        label_visibility="collapsed",
    )
    or "add"
)

editing_id: int | None = None
current: registry.VolunteerInput | None = None
if mode == "edit":
    options = result.rows["id"].astype(int).tolist() if result.total else []
    labels = (
        {int(r.id): f"#{r.id} {r.name} · {r.grid_code}" for r in result.rows.itertuples()} if options else {}
    )
    editing_id = st.selectbox(
        t("vol.pick_to_edit"),
        [None, *options],
        key=f"{KEY}_edit_id",
        format_func=lambda i: t("vol.pick_placeholder") if i is None else labels.get(i, str(i)),
    )
    if editing_id is None:
        st.stop()
    loaded = st.session_state.get(f"{KEY}_loaded")
    if loaded is None or loaded[0] != editing_id:
        # the edit form shows personal data: audited as view_pii
        ok, found = run_action(registry.volunteer_for_edit, me, editing_id)
        if not ok:
            st.stop()
        loaded = (editing_id, found)
        st.session_state[f"{KEY}_loaded"] = loaded
    current = loaded[1]

blank = registry.VolunteerInput(name="", phone="", home_grid_id=grid_id, skills=[])
init = current or blank
# A new suffix after each save gives a fresh, empty form.
suffix = f"{mode}_{editing_id or 0}_{st.session_state.get(f'{KEY}_nonce', 0)}"
grid_ids = grids["id"].tolist()
political = list(ui.POLITICAL)
with st.form(f"{KEY}_form_{suffix}", border=True):
    f1, f2, f3, f4 = st.columns([1.3, 1.3, 0.7, 0.8])
    name = f1.text_input(t("vol.name"), init.name, max_chars=64, key=f"{KEY}_f_name_{suffix}")
    phone = f2.text_input(
        t("vol.phone"), init.phone, max_chars=20, key=f"{KEY}_f_phone_{suffix}", placeholder="13800000000"
    )
    gender = f3.selectbox(
        t("vol.gender"),
        ["", "男", "女"],
        index=["", "男", "女"].index(init.gender) if init.gender in ("", "男", "女") else 0,
        key=f"{KEY}_f_gender_{suffix}",
        format_func=lambda g: g or "—",
    )
    birth_year = f4.number_input(
        t("vol.birth_year"),
        min_value=0,
        max_value=clock.now().year,
        value=init.birth_year or 0,
        step=1,
        key=f"{KEY}_f_birth_{suffix}",
        help=t("vol.birth_year_help"),
    )
    f5, f6, f7, f8 = st.columns(4)
    home = f5.selectbox(
        t("vol.home_grid"),
        grid_ids,
        index=grid_ids.index(init.home_grid_id) if init.home_grid_id in grid_ids else None,
        key=f"{KEY}_f_grid_{suffix}",
        format_func=ui.grid_label(grids),
        placeholder=t("vol.pick_placeholder"),
    )
    pol = f6.selectbox(
        t("vol.political"),
        political,
        index=political.index(init.political_status) if init.political_status in political else 0,
        key=f"{KEY}_f_pol_{suffix}",
        format_func=lambda p: label("political", p),
    )
    kind = f7.selectbox(
        t("vol.party_kind"),
        ui.PARTY_KINDS,
        index=ui.PARTY_KINDS.index(init.party_kind) if init.party_kind in ui.PARTY_KINDS else 0,
        key=f"{KEY}_f_kind_{suffix}",
        format_func=lambda k: label("party_kind", k),
    )
    unit_options = [None, *units["id"].tolist()]
    unit = f8.selectbox(
        t("vol.employer"),
        unit_options,
        index=unit_options.index(init.employer_unit_id) if init.employer_unit_id in unit_options else 0,
        key=f"{KEY}_f_unit_{suffix}",
        format_func=ui.unit_label(units),
    )
    chosen_skills = st.multiselect(
        t("vol.skills"),
        ui.SKILL_OPTIONS,
        default=init.skills,
        key=f"{KEY}_f_skills_{suffix}",
        format_func=ui.skill_label,
        placeholder=t("app.choose"),
    )
    dup_flag = f"{KEY}_dup_{suffix}"
    allow_dup = False
    if st.session_state.get(dup_flag):
        st.warning(t("vol.err.phone_taken"))
        allow_dup = st.checkbox(t("vol.allow_duplicate"), key=f"{KEY}_f_dup_{suffix}")
    submitted = st.form_submit_button(t("app.save"), type="primary", key=f"{KEY}_save_{suffix}")

if submitted:
    data = registry.VolunteerInput(
        name=name,
        phone=phone,
        home_grid_id=home,
        skills=list(chosen_skills),
        gender=gender,
        birth_year=int(birth_year) or None,
        political_status=pol,
        party_kind=kind,
        employer_unit_id=unit,
        active=init.active,
    )

    def _save(s: Session) -> int | None:
        """The volunteer's id; None when the phone is another volunteer's and the user has not confirmed
        yet (nothing is written then: the phone is checked before any change)."""
        try:
            return registry.save_volunteer(s, me, data, editing_id, allow_duplicate_phone=allow_dup)
        except Invalid as exc:
            if exc.key == "vol.err.phone_taken":
                return None
            raise

    ok, saved = run_action(_save)
    if ok and saved is None:
        st.session_state[dup_flag] = True
        st.rerun()
    if ok:
        st.session_state.pop(dup_flag, None)
        st.session_state.pop(f"{KEY}_loaded", None)
        st.session_state[f"{KEY}_nonce"] = st.session_state.get(f"{KEY}_nonce", 0) + 1
        st.session_state[f"{KEY}_flash"] = t("vol.saved", id=saved)
        ui.data_changed()
        st.rerun()

if mode == "edit" and editing_id is not None and current is not None:
    if current.active:
        clicked = st.button(
            t("vol.deactivate"),
            key=f"{KEY}_deactivate",
            icon=":material/person_off:",
            help=t("vol.deactivate_help"),
        )
    else:
        clicked = st.button(t("vol.reactivate"), key=f"{KEY}_reactivate", icon=":material/person_check:")
    if clicked:
        ok, _ = run_action(registry.set_volunteer_active, me, editing_id, not current.active)
        if ok:
            st.session_state.pop(f"{KEY}_loaded", None)
            st.session_state[f"{KEY}_flash"] = t("vol.deactivated" if current.active else "vol.reactivated")
            ui.data_changed()
            st.rerun()
