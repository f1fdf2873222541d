"""Widgets shared by the volunteer pages: labels, pager, period picker and the cached coverage data."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import has, label, t
from dashboard.kernel import privacy
from dashboard.kernel.scope import Actor, community_ids_in_scope
from dashboard.reporting import kpi
from dashboard.reporting.kpi import Period
from dashboard.territory import lookups as territory
from dashboard.ui.common import db_session
from dashboard.volunteers import need, registry
from models.enums import SKILLS, PartyMemberKind, PoliticalStatus

DISTANCE_KEYS = ("vol.distance.home", "vol.distance.neighbour", "vol.distance.community", "vol.distance.far")
ACTIVITY_KEYS = (
    "vol.activity_tier.recent",
    "vol.activity_tier.lately",
    "vol.activity_tier.half_year",
    "vol.activity_tier.dormant",
)
"""The activity tiers of matching (dashboard.volunteers.matching.ACTIVITY_DAYS), in order."""


def skill_label(skill: str | None) -> str:
    """A skill's name in the UI language (skills are stored as their Chinese names)."""
    if not skill:
        return t("app.all")
    return t(f"vol.skill.{skill}") if has(f"vol.skill.{skill}") else skill


def skills_text(skills: list[str]) -> str:
    return "、".join(skill_label(s) for s in skills)


def party_kind_label(kind: str | None) -> str:
    return t("app.all") if not kind else label("party_kind", kind)


def search_hint(me: Actor) -> str:
    """The placeholder of a volunteer search box: a role that sees names and phones masked finds a volunteer
    by the whole name or the whole number only (:func:`dashboard.kernel.privacy.searchable`)."""
    exact = privacy.searchable(me, "volunteer") == "exact"
    return t("vol.search_hint_exact" if exact else "vol.search_hint")


def pager(total: int, pages: int, page: int, key: str) -> None:
    """Previous/next buttons and a caption; the page number lives in ``st.session_state[key]``."""

    def _go(delta: int) -> None:
        st.session_state[key] = max(1, min(pages, page + delta))

    c1, c2, c3 = st.columns([1, 1, 4])
    c1.button(
        t("app.prev"),
        key=f"{key}_prev",
        on_click=_go,
        args=(-1,),
        disabled=page <= 1,
        icon=":material/chevron_left:",
    )
    c2.button(
        t("app.next"),
        key=f"{key}_next",
        on_click=_go,
        args=(1,),
        disabled=page >= pages,
        icon=":material/chevron_right:",
    )
    c3.caption(t("app.page_of", page=page, pages=pages, total=f"{total:,}"))


def reset_page_on_change(key: str, filters: object) -> int:
    """The current page number for `key`; back to 1 whenever `filters` change."""
    if st.session_state.get(f"{key}_filters") != filters:
        st.session_state[f"{key}_filters"] = filters
        st.session_state[key] = 1
    return int(st.session_state.get(key, 1))


PERIODS = ("month", "quarter", "year", "last12", "custom")


def period_picker(key: str, default: str = "quarter") -> Period:
    """This month / quarter / year, the last 12 months, or custom dates."""
    today = clock.now().date()
    c1, c2, c3 = st.columns([2, 1, 1])
    kind = (
        c1.segmented_control(
            t("vol.period"),
            PERIODS,
            default=default,
            key=f"{key}_kind",
            format_func=lambda k: t(f"vol.period_{k}"),
        )
        or default
    )
    if kind == "month":
        return kpi.month_period(today)
    if kind == "quarter":
        return kpi.quarter_period(today)
    if kind == "year":
        start = date(today.year, 1, 1)
        return Period(kpi.day_period(start).start, kpi.day_period(date(today.year, 12, 31)).end, "year")
    if kind == "last12":
        start = date(today.year - 1, today.month, 1)
        return Period(kpi.day_period(start).start, kpi.day_period(today).end, "custom")
    start = c2.date_input(t("vol.start_date"), today.replace(day=1), key=f"{key}_start")
    end = c3.date_input(t("vol.end_date"), today, key=f"{key}_end")
    return Period(kpi.day_period(start).start, kpi.day_period(max(start, end)).end, "custom")


# ---------------------------------------------------------------- lookups (cached, plain values)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def lookups(me: Actor, url: str) -> dict[str, pd.DataFrame]:
    """Communities and grids in the actor's scope, and resident units."""
    with db_session() as s:
        comms = territory.communities(s)
        allowed = community_ids_in_scope(me)
        grids = territory.grids(s, me)
        if allowed is not None:
            comms = comms[comms["id"].isin(allowed)]
        comms = comms[comms["id"].isin(grids["community_id"])]
        units = registry.resident_units(s)
    return {"communities": comms.reset_index(drop=True), "grids": grids, "units": units}


def current_lookups(me: Actor) -> dict[str, pd.DataFrame]:
    return lookups(me, get_settings().database_url)


def grid_label(grids: pd.DataFrame):  # type: ignore[no-untyped-def]
    names = {int(r.id): f"{r.code} {r.name}" for r in grids.itertuples()}
    return lambda gid: t("app.all") if gid is None else names.get(int(gid), str(gid))


def community_label(comms: pd.DataFrame):  # type: ignore[no-untyped-def]
    names = {int(r.id): r.name for r in comms.itertuples()}
    return lambda cid: t("app.all") if cid is None else names.get(int(cid), str(cid))


def unit_label(units: pd.DataFrame):  # type: ignore[no-untyped-def]
    names = {int(r.id): r.name for r in units.itertuples()}
    return lambda uid: t("vol.no_unit") if uid is None else names.get(int(uid), str(uid))


SKILL_OPTIONS: list[str] = list(SKILLS)
PARTY_KINDS: list[str] = [k.value for k in PartyMemberKind]
POLITICAL: list[str] = [p.value for p in PoliticalStatus]


# ---------------------------------------------------------------- coverage (cached; cleared on every write)


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def coverage_data(me: Actor, url: str, minute: str) -> dict[str, pd.DataFrame]:
    """Cells, per-community and per-skill totals of the coverage model for the actor's scope."""
    with db_session() as s:
        now = clock.now()
        cells = need.coverage_matrix(s, me, now)
        comm = need.coverage_by_community(s, me, now, cells=cells)
    return {"cells": cells, "communities": comm, "skills": need.coverage_by_skill(cells)}


def current_coverage(me: Actor) -> dict[str, pd.DataFrame]:
    return coverage_data(me, get_settings().database_url, clock.now().strftime("%Y-%m-%d %H:%M"))


def data_changed() -> None:
    """Call after any write to volunteers, service records or need rules: drop the cached figures."""
    coverage_data.clear()
