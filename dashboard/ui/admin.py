"""What every administration page shares: admins only, a title, changes that either save whole or show
why not (:func:`~dashboard.ui.errors.run_action`), a message that survives the rerun after a saved change,
and the list of recent changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlmodel import Session

from dashboard.admin.changes import recent_changes
from dashboard.i18n import t
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.ui.common import actor, db_session, page_title
from dashboard.ui.errors import run_action

_FAILED = object()


class AdminPage:
    """Open an admin page: stop anyone but an admin, show the title and the last change's message."""

    def __init__(self, title_key: str, caption: str, flash_key: str) -> None:
        self.flash_key = flash_key
        self.me: Actor = actor()
        if not may(self.me, "admin.manage"):
            st.error(t("app.forbidden"))
            st.stop()
        page_title(title_key, caption)
        flash = st.session_state.pop(flash_key, None)
        if flash:
            st.success(flash)

    def done(self, message: str) -> None:
        """A change was saved: drop cached figures, rerun, and say `message` on the fresh page."""
        st.cache_data.clear()
        st.session_state[self.flash_key] = message
        st.rerun()

    def _run(self, action: Callable[[Session], Any]) -> Any:
        """`action` in one transaction; its result, or _FAILED after showing why (nothing is saved)."""
        ok, result = run_action(action)
        return result if ok else _FAILED

    def attempt(self, action: Callable[[Session], Any], message: str | Callable[[Any], str]) -> None:
        """Run a change; when it saves, rerun saying `message` (or `message(result)`)."""
        result = self._run(action)
        if result is not _FAILED:
            self.done(message(result) if callable(message) else message)

    def save(self, action: Callable[[Session], Any], message: str) -> None:
        """Run an edit that returns its changes; say `message` when it changed something, else that
        nothing changed."""
        changes = self._run(action)
        if changes is _FAILED:
            return
        if changes:
            self.done(message)
        st.info(t("admin.unchanged"))


def change_log(action_prefix: str) -> None:
    """The recent audited changes whose action starts with `action_prefix`."""
    with db_session() as s:
        log = recent_changes(s, action_prefix)
    if log.empty:
        st.info(t("app.nothing"))
        return
    columns = {
        "at": t("admin.at"),
        "actor": t("admin.actor"),
        "action": t("admin.action"),
        "target": t("admin.target"),
        "detail": t("admin.detail"),
    }
    st.dataframe(log.rename(columns=columns), hide_index=True, width="stretch")
