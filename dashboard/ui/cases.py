"""Case widgets shared by the queue, the case page, intake and the department queue: ageing badges, SLA
clock text, the action dialogs and the small case map.

Every action dialog asks only what its action needs, calls the service with the version the user saw,
and on success reruns the app with a one-line confirmation; a refused action (stale version, illegal
move, bad input) is explained inside the dialog and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pydeck as pdk
import streamlit as st
from sqlmodel import Session

from dashboard.cases import commands as cases
from dashboard.cases import intake as case_intake
from dashboard.cases import view as case_view
from dashboard.cases.errors import InvalidInput
from dashboard.cases.view import CaseDetail
from dashboard.config import get_settings
from dashboard.i18n import current_lang, label, t
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import Markup
from dashboard.territory import lookups as territory
from dashboard.ui import photo_dialogs
from dashboard.ui.common import db_session, plain
from dashboard.ui.errors import run_action
from dashboard.ui.maps import map_style
from models.enums import Ageing, CaseStatus, EscalationLevel, Satisfaction

AGEING_CSS = {
    Ageing.green: "background-color: #d5f5e3; color: #145a32",
    Ageing.yellow: "background-color: #fcf3cf; color: #7d6608",
    Ageing.red: "background-color: #f5b7b1; color: #922b21",
    Ageing.black: "background-color: #2c3e50; color: #ffffff",
}
"""Cell colours of the ageing column (colour, not an emoji: kiosk PCs often lack an emoji font)."""
_BADGE = {Ageing.green: "green", Ageing.yellow: "orange", Ageing.red: "red", Ageing.black: "gray"}
FLASH_KEY = "case_flash"
DIALOG_KEY = "case_dialog"
BULK_KEY = "queue_bulk"
CASE_PAGE = "pages/case_detail.py"


# ---------------------------------------------------------------- text


def _colour(value: object) -> Ageing | None:
    return Ageing(value) if isinstance(value, str) and value in Ageing.__members__ else None


def ageing_text(colour: str | None) -> str:
    """'超期' for a colour, '—' once the clock has stopped."""
    c = _colour(colour)
    return label("ageing", c) if c else "—"


def ageing_badge(colour: str | None) -> str:
    """The ageing colour as a Markdown badge (our own label only, never user text)."""
    c = _colour(colour)
    return f":{_BADGE[c]}-badge[{label('ageing', c)}]" if c else "—"


def style_ageing(table: pd.DataFrame, column: str, colours: pd.Series) -> Any:
    """A Styler colouring `column` of `table` by the ageing `colours` (aligned by position)."""
    css = [AGEING_CSS.get(c, "") if (c := _colour(v)) else "" for v in colours]
    return table.style.apply(lambda _col: css, subset=[column])


def fmt_dt(value: datetime | None) -> str:
    return "—" if value is None or value != value else f"{value:%Y-%m-%d %H:%M}"  # NaT != NaT


def duration_text(delta: timedelta) -> str:
    """A rough human duration: '2天3小时', '5小时20分', '12分'."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return t("case.dur_dh", days=days, hours=hours)
    if hours:
        return t("case.dur_hm", hours=hours, minutes=mins)
    return t("case.dur_m", minutes=mins)


def clock_text(due_at: datetime | None, now: datetime, running: bool) -> str:
    """'剩余 2天3小时' / '已超期 5小时' while the clock runs; '—' otherwise."""
    if due_at is None or not running or due_at != due_at:
        return "—"
    if due_at > now:
        return t("case.left", duration=duration_text(due_at - now))
    return t("case.overdue_by", duration=duration_text(now - due_at))


def category_name(zh: str, en: str) -> str:
    return en if current_lang() == "en" and en else zh


def action_label(action: str) -> str:
    return t(f"actions.{action}")


def done_message(action: str, lang: str | None = None, *, number: str = "", count: int = 0) -> Markup:
    """The confirmation of `action` on case `number`, or on `count` cases: each action in its own words."""
    done = t(f"actions_done.{action}", lang)
    if number:
        return t("actions.done", lang, number=number, done=done)
    return t("queue.bulk_done", lang, count=count, done=done)


def flash() -> None:
    """Show (once) the confirmation left by the last successful action."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")


def duplicate_list(hints: list[tuple[str, str, float, datetime]]) -> None:
    """Possible duplicates (number, title, distance in m, reported at) shown before an intake is saved."""
    st.warning(t("intake.duplicates", count=len(hints)), icon=":material/content_copy:")
    for number, title, distance, at in hints:
        st.markdown(
            f"- **{number}** · {plain(title)} · {t('case.metres', m=f'{distance:.0f}')} · {fmt_dt(at)}"
        )


# ---------------------------------------------------------------- cached lookups (plain values only)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def lookups(url: str) -> dict[str, Any]:
    """Categories, communities, grids and departments as small lists of plain tuples."""
    with db_session() as s:
        cats = territory.categories(s)
        comms = territory.communities(s)
        grids = territory.grids(s)
        depts = territory.departments(s)
    return {
        "categories": [(int(r.id), r.code, r.name_zh, r.name_en, r.calendar) for r in cats.itertuples()],
        "communities": [(int(r.id), r.code, r.name) for r in comms.itertuples()],
        "grids": [(int(r.id), r.code, r.name, int(r.community_id)) for r in grids.itertuples()],
        "departments": [(int(r.id), r.code, r.name) for r in depts.itertuples()],
    }


def current_lookups() -> dict[str, Any]:
    return lookups(get_settings().database_url)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def _workers(me: Actor, url: str) -> list[tuple[int, str, str]]:
    with db_session() as s:
        return case_view.grid_workers(s, me)


# ---------------------------------------------------------------- running an action


def perform(fn: Callable[[Session], object], done: str) -> bool:
    """Run one service call as a unit of work (:func:`run_action`); on success leave `done` for the next
    run and rerun. A refused call shows why (inside the dialog when called from one) and writes nothing.
    """
    ok, _ = run_action(fn)
    if not ok:
        return False
    st.session_state[FLASH_KEY] = done
    close_dialog()
    st.rerun()
    return True  # not reached: st.rerun() stops the script


def _note(key: str, required: bool = False, label_key: str = "actions.note") -> str:
    text = st.text_area(t(label_key) + (" *" if required else ""), key=key, max_chars=2000, height=100)
    return text or ""


def _confirm(key: str, primary: str = "actions.confirm") -> bool:
    return st.button(t(primary), key=key, type="primary", width="stretch")


ActionCall = Callable[[Session], object]
"""One service call, run as a unit of work by :func:`perform` once the user confirms."""


@dataclass(frozen=True)
class ActionDialog:
    """One open action dialog: the action, the case as the user saw it (at `version`) and who acts."""

    action: str
    case: CaseDetail
    me: Actor
    version: int

    @property
    def key(self) -> str:
        """The prefix of the dialog's widget keys."""
        return f"dlg_{self.action}_{self.case.id}"

    def note(self, required: bool = False, label_key: str = "actions.note") -> str:
        return _note(f"{self.key}_note", required, label_key)


ActionFields = Callable[[ActionDialog], ActionCall]
"""Renders the fields of one action's dialog and returns the service call they make."""


def _dialog_body(action: str, d: CaseDetail, me: Actor, version: int) -> None:
    """The fields and the confirm button of one action on case `d`, at the `version` the user acted on."""
    dialog = ActionDialog(action, d, me, version)
    st.caption(f"{d.number} · {label('status', d.status)}")
    call = ACTION_FIELDS[action](dialog)
    if _confirm(f"{dialog.key}_ok"):
        perform(call, done_message(action, number=d.number))


def _with_note(command: Callable[[Session, Actor, int, int, str], object]) -> ActionFields:
    """The fields of an action that takes an optional note."""

    def fields(dlg: ActionDialog) -> ActionCall:
        note = dlg.note()
        return lambda s: command(s, dlg.me, dlg.case.id, dlg.version, note)

    return fields


def _with_reason(command: Callable[[Session, Actor, int, int, str], object]) -> ActionFields:
    """The fields of an action that needs a reason (a required note labelled for the action)."""

    def fields(dlg: ActionDialog) -> ActionCall:
        note = dlg.note(required=True, label_key=f"actions.{dlg.action}_note")
        return lambda s: command(s, dlg.me, dlg.case.id, dlg.version, note)

    return fields


def _dispatch(dlg: ActionDialog) -> ActionCall:
    d = dlg.case
    assignee, dept = _dispatch_fields(dlg.key, dlg.me, d.grid_id, d.default_department_id)
    note = dlg.note()
    return lambda s: cases.dispatch(
        s, dlg.me, d.id, dlg.version, assignee_id=assignee, department_id=dept, note=note
    )


def _follow_up(dlg: ActionDialog) -> ActionCall:
    choice = st.radio(
        t("actions.satisfaction"),
        list(Satisfaction),
        key=f"{dlg.key}_sat",
        format_func=lambda v: label("satisfaction", v),
        index=None,
    )
    note = dlg.note()
    return lambda s: cases.follow_up(s, dlg.me, dlg.case.id, dlg.version, choice or "", note)


def _close(dlg: ActionDialog) -> ActionCall:
    d = dlg.case
    if d.satisfaction is None and d.reporter_anonymous:
        st.info(t("actions.close_anonymous"))
    solved = st.checkbox(t("actions.solved"), value=True, key=f"{dlg.key}_solved")
    note = dlg.note()
    return lambda s: cases.close(s, dlg.me, d.id, dlg.version, solved=solved, note=note)


def _merge(dlg: ActionDialog) -> ActionCall:
    into = _merge_target(dlg.key, dlg.me, dlg.case)
    note = dlg.note()
    return lambda s: _merge_by_number(s, dlg.me, dlg.case.id, dlg.version, into, note)


def _extend_request(dlg: ActionDialog) -> ActionCall:
    unit = label("calendar", dlg.case.calendar)
    amount = st.number_input(
        t("actions.extend_amount", unit=unit),
        min_value=0.5,
        max_value=365.0,
        value=1.0,
        step=0.5,
        key=f"{dlg.key}_amount",
    )
    reason = dlg.note(required=True, label_key="actions.extend_reason")
    return lambda s: cases.request_extension(s, dlg.me, dlg.case.id, dlg.version, float(amount), reason)


def _extend_decision(dlg: ActionDialog) -> ActionCall:
    """Approve or refuse (by the action) the pending extension request, shown first."""
    d = dlg.case
    pending = next((x for x in d.extensions if x.decision == "pending"), None)
    if pending is not None:
        st.markdown(
            t(
                "actions.extend_pending",
                amount=pending.amount,
                unit=label("calendar", d.calendar),
                who=pending.requested_by,
            )
        )
        st.text(pending.reason)
    note = dlg.note()
    approve = dlg.action == "extend_approve"
    return lambda s: cases.decide_extension(s, dlg.me, d.id, dlg.version, approve, note)


def _escalate(dlg: ActionDialog) -> ActionCall:
    level = st.radio(
        t("actions.level"),
        list(EscalationLevel),
        key=f"{dlg.key}_level",
        horizontal=True,
        format_func=lambda v: label("escalation", v),
    )
    names = {i: n for i, _, n in current_lookups()["departments"]}
    chosen = st.multiselect(
        t("actions.departments") + " *",
        list(names),
        key=f"{dlg.key}_depts",
        format_func=lambda i: names[i],
        placeholder=t("app.all"),
    )
    note = dlg.note(required=True, label_key="actions.escalate_note")
    return lambda s: cases.escalate(s, dlg.me, dlg.case.id, dlg.version, level, chosen, note)


def _report_back(dlg: ActionDialog) -> ActionCall:
    """A department reports back on its escalation; a supervisor picks the department it reports for."""
    dept = dlg.me.department_id
    if not dept:
        pending = [e for e in dlg.case.escalations if e.reported_back_at is None]
        names = {e.department_id: e.department for e in pending}
        dept = st.selectbox(
            t("actions.for_department"), list(names), key=f"{dlg.key}_dept", format_func=lambda i: names[i]
        )
    report = dlg.note(required=True, label_key="actions.report_note")
    return lambda s: cases.report_back(s, dlg.me, dlg.case.id, dlg.version, report, dept)


def _comment(dlg: ActionDialog) -> ActionCall:
    note = dlg.note(required=True)
    return lambda s: cases.comment(s, dlg.me, dlg.case.id, note)


ACTION_FIELDS: dict[str, ActionFields] = {
    "accept": _with_note(cases.accept),
    "start": photo_dialogs.start_fields,  # with 处置前 photos
    "verify": photo_dialogs.verify_fields,  # before and after side by side
    "reject": _with_reason(cases.reject),
    "return": _with_reason(cases.return_case),
    "rework": _with_reason(cases.rework),
    "reopen": _with_reason(cases.reopen),
    "supervise": _with_reason(cases.supervise),
    "resolve": photo_dialogs.resolve_fields,  # with 处置后 photos
    "dispatch": _dispatch,
    "follow_up": _follow_up,
    "close": _close,
    "merge": _merge,
    "extend_request": _extend_request,
    "extend_approve": _extend_decision,
    "extend_refuse": _extend_decision,
    "escalate": _escalate,
    "report_back": _report_back,
    "comment": _comment,
}
"""The dialog fields of every action on a case (dashboard.kernel.policy.CASE_ACTIONS)."""


def _dispatch_fields(
    k: str, me: Actor, grid_id: int | None, default_dept: int | None
) -> tuple[int | None, int | None]:
    workers = _workers(me, get_settings().database_url)
    worker_names = {uid: f"{name} · {code}" for uid, name, code in workers}
    grid_codes = {gid: code for gid, code, _, _ in current_lookups()["grids"]}
    own = next(
        (uid for uid, _, code in workers if grid_id is not None and code == grid_codes.get(grid_id)), None
    )
    options: list[int | None] = [None, *worker_names]
    assignee = st.selectbox(
        t("actions.assignee"),
        options,
        key=f"{k}_assignee",
        index=options.index(own) if own in options else 0,
        format_func=lambda v: t("actions.nobody") if v is None else worker_names[v],
    )
    depts = {i: n for i, _, n in current_lookups()["departments"]}
    dept_options: list[int | None] = [None, *depts]
    dept = st.selectbox(
        t("actions.department"),
        dept_options,
        key=f"{k}_dept",
        index=dept_options.index(default_dept) if default_dept in depts else 0,
        format_func=lambda v: t("actions.nobody") if v is None else depts[v],
    )
    if default_dept in depts:
        st.caption(t("actions.default_department", name=depts[default_dept]))  # type: ignore[index]
    return assignee, dept


def _merge_target(k: str, me: Actor, d: CaseDetail) -> str:
    with db_session() as s:
        hints = case_intake.find_duplicates(
            s, me, d.category_id, d.lon, d.lat, d.reported_at, exclude_id=d.id
        )
    options = [h.number for h in hints]
    if options:
        st.caption(t("actions.merge_suggested"))
    choice = st.selectbox(
        t("actions.merge_into"),
        [*options, ""],
        key=f"{k}_pick",
        format_func=lambda v: t("actions.merge_other") if v == "" else v,
    )
    if choice == "":
        return st.text_input(t("actions.merge_number"), key=f"{k}_number", max_chars=24).strip()
    return choice


def _merge_by_number(s: Session, me: Actor, cid: int, ver: int, number: str, note: str) -> object:
    into = case_view.find_case_id(s, me, number)
    if into is None:
        raise InvalidInput({"into": "errors.not_found"})
    return cases.merge(s, me, cid, ver, into, note)


def close_dialog() -> None:
    st.session_state.pop(DIALOG_KEY, None)


def open_action(action: str, d: CaseDetail, me: Actor, version: int) -> None:
    """Open the dialog of `action` for case `d` as the user saw it (`version`)."""
    st.dialog(
        t("actions.dialog_title", action=action_label(action), number=d.number),
        width="large" if action == "verify" else "medium",  # photos large enough to judge the work
        on_dismiss=close_dialog,
    )(_dialog_body)(action, d, me, version)


def action_buttons(d: CaseDetail, me: Actor, allowed: list[str]) -> None:
    """One button per allowed action (the usual next step highlighted) and the open action's dialog.

    Which dialog is open, and the case version the user clicked on, are kept in the session state: the
    dialog survives the reruns its own widgets cause and closes on success or when dismissed; if someone
    changed the case in between, confirming says who and when (optimistic lock) instead of acting.
    """
    if not allowed:
        st.caption(t("case.no_actions"))
    else:
        usual = {
            CaseStatus.reported: "accept",
            CaseStatus.accepted: "dispatch",
            CaseStatus.dispatched: "start",
            CaseStatus.in_progress: "resolve",
            CaseStatus.resolved: "verify",
            CaseStatus.verified: "follow_up" if d.satisfaction is None else "close",
        }.get(d.status)
        cols = st.columns(min(len(allowed), 4))
        for i, action in enumerate(allowed):
            if cols[i % len(cols)].button(
                action_label(action),
                key=f"act_{action}",
                width="stretch",
                type="primary" if action == usual else "secondary",
            ):
                st.session_state[DIALOG_KEY] = (action, d.id, d.version)
    wanted = st.session_state.get(DIALOG_KEY)
    if wanted and wanted[1] == d.id:
        open_action(wanted[0], d, me, wanted[2])
    elif wanted:
        close_dialog()


# ---------------------------------------------------------------- bulk actions from the queue


def bulk_dialog(action: str, rows: list[tuple[int, str, int]], me: Actor) -> None:
    """Dispatch or supervise several cases (id, number, version as listed); each succeeds or fails alone."""

    def body() -> None:
        st.caption(t("queue.bulk_count", count=len(rows)))
        k = f"bulk_{action}"
        if action == "dispatch":
            assignee, dept = _dispatch_fields(k, me, None, None)
            note = _note(f"{k}_note")
        else:
            note = _note(f"{k}_note", required=True, label_key="actions.supervise_note")
        if not _confirm(f"{k}_ok"):
            return

        def one(s: Session, cid: int, version: int) -> object:
            if action == "dispatch":
                return cases.dispatch(
                    s, me, cid, version, assignee_id=assignee, department_id=dept, note=note
                )
            return cases.supervise(s, me, cid, version, note)

        summary = st.empty()
        done, failed = 0, 0
        for cid, number, version in rows:
            heading = st.empty()  # the case number above its refusal
            ok, _ = run_action(one, cid, version)
            if ok:
                done += 1
            else:
                heading.markdown(f"**{plain(number)}**")
                failed += 1
        if failed:
            summary.warning(t("queue.bulk_partial", done=done, failed=failed))
            return
        st.session_state[FLASH_KEY] = done_message(action, count=done)
        st.session_state.pop(BULK_KEY, None)
        st.rerun()

    st.dialog(
        t("queue.bulk_title", action=action_label(action)),
        width="medium",
        on_dismiss=lambda: st.session_state.pop(BULK_KEY, None),
    )(body)()


# ---------------------------------------------------------------- map


def case_map(d: CaseDetail, height: int = 260) -> None:
    """The case's point on its grid polygon over the app's own blank basemap style."""
    try:
        polygon = json.loads(d.grid_polygon)
    except ValueError:
        polygon = None
    layers = []
    if polygon:
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                data={"type": "Feature", "geometry": polygon, "properties": {}},
                id="grid",
                stroked=True,
                filled=True,
                get_fill_color=[52, 152, 219, 50],
                get_line_color=[41, 128, 185, 220],
                line_width_min_pixels=2,
            )
        )
    lon, lat = d.lon, d.lat
    if lon is not None and lat is not None:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=[{"lon": lon, "lat": lat}],
                id="case",
                get_position="[lon, lat]",
                get_radius=25,
                radius_min_pixels=6,
                get_fill_color=[192, 57, 43, 240],
                get_line_color=[255, 255, 255],
                stroked=True,
                line_width_min_pixels=2,
            )
        )
    centre_lon = lon if lon is not None else d.grid_lon
    centre_lat = lat if lat is not None else d.grid_lat
    style = map_style()  # the blank style served by the app (as on the map page): no outside request
    basemap: dict[str, Any] = (
        {"map_provider": "mapbox", "map_style": style} if style else {"map_provider": None}
    )
    deck = pdk.Deck(
        layers=layers,
        tooltip=False,  # type: ignore[arg-type]
        initial_view_state=pdk.ViewState(longitude=centre_lon, latitude=centre_lat, zoom=14.5),
        **basemap,
    )
    st.pydeck_chart(deck, height=height, key=f"case_map_{d.id}")
