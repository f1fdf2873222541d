"""Reruns that do not pass through ``app.py``: fragments re-validate the session themselves.

A full rerun runs ``app.py``, which checks the session cookie before any page. A fragment rerun
(``st.fragment(run_every=…)`` on the wall) runs only the fragment, so without a check an open wall kept
showing figures after its account was disabled, its session logged out in another tab, or idle time ran
out. :func:`fragment` is ``st.fragment`` with that check first: when the session (or the display link)
is gone, the whole app reruns and shows the login screen (or "link invalid").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import streamlit as st

from dashboard import db
from dashboard.admin import auth
from dashboard.admin.settings import cached_setting
from dashboard.config import get_settings
from dashboard.reporting import display_links


def still_signed_in() -> bool:
    """Whether this browser session's login (or display link) is still valid, without counting the
    check as activity (an auto-refresh is not the user at work)."""
    if st.session_state.get("display"):
        with db.session_scope(write=True) as s:
            return display_links.resolve(s, st.session_state.get("display_token")) is not None
    me = st.session_state.get("actor")
    cookie = st.session_state.get("cookie")
    if me is None or not cookie:
        return False
    idle = int(cached_setting("session_idle_minutes"))
    with db.session_scope(write=True) as s:  # an expired session is revoked on the way
        actor = auth.resume_session(s, cookie, get_settings().secret_key, idle, touch=False)
    return actor is not None and actor.id == me.id


def fragment(*, run_every: float | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``st.fragment`` whose every run first re-validates the session (see the module docstring)."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(body)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not still_signed_in():
                st.session_state.pop("actor", None)
                if not st.session_state.get("display"):
                    st.session_state["expired"] = True
                st.rerun(scope="app")
            return body(*args, **kwargs)

        return st.fragment(guarded, run_every=run_every)

    return decorate
