"""Cases to pick from when a page opens without one (case page, matching): the user's recent cases and the
most urgent work in their scope, one button each."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard import clock
from dashboard.cases import picks
from dashboard.cases.picks import CasePick
from dashboard.i18n import label, t
from dashboard.kernel.scope import Actor
from dashboard.ui.cases import clock_text
from dashboard.ui.common import db_session, plain
from models.enums import ACTIVE_STATUSES

_RUNNING = {s.value for s in ACTIVE_STATUSES}


def _text(p: CasePick, now: datetime) -> str:
    """Number · title · status (· time left while the clock runs), as Markdown with the title escaped."""
    parts = [f"**{p.number}**", plain(p.title), label("status", p.status)]
    if p.status in _RUNNING:
        parts.append(clock_text(p.due_at, now, True))
    return " · ".join(str(x) for x in parts if x and x != "—")


def case_picker(me: Actor, key: str, *, open_only: bool = False) -> str | None:
    """Two short lists (the cases the user last acted on; the first of their 待办 queue) and the number of
    the one clicked, or None. `open_only`: leave closed cases out of the recent list."""
    now = clock.now()
    with db_session() as s:
        recent = picks.recent_cases(s, me, open_only=open_only, now=now)
        urgent = picks.urgent_cases(s, me, now=now)
    if not recent and not urgent:
        return None
    chosen: str | None = None
    for column, (tag, items) in zip(st.columns(2), (("recent", recent), ("urgent", urgent)), strict=True):
        with column:
            st.markdown(f"**{t(f'picker.{tag}')}**")
            if not items:
                st.caption(t(f"picker.no_{tag}"))
            for p in items:
                if st.button(_text(p, now), key=f"{key}_{tag}_{p.id}", width="stretch"):
                    chosen = p.number
    return chosen
