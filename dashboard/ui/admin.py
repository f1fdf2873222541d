"""What every administration page shares: admins only, a title, changes that either save whole or show
why not, a message that survives the rerun after a saved change, and the list of recent changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlmodel import Session

from dashboard.admin import catalogue as admin
from dashboard.admin.catalogue import AdminError
from dashboard.i18n import t
from dashboard.kernel.scope import Actor
from dashboard.ui.common import actor, db_session, page_title, plain
from models.enums import Role

_FAILED = object()


def show_error(e: AdminError) -> None:
    """An administration error in the user's language (field names translated)."""
    st.error(
        t(e.key, **{k: t(f"admin.field.{v}") if k == "field" else plain(v) for k, v in e.params.items()})
    )


class AdminPage:
    """Open an admin page: stop anyone but an admin, show the title and the last change's message.

    `on_error` shows an AdminError (a page whose errors name other things than fields passes its own).
    """

    def __init__(
        self,
        title_key: str,
        caption: str,
        flash_key: str,
        on_error: Callable[[AdminError], None] = show_error,
    ) -> None:
        self.flash_key, self.on_error = flash_key, on_error
        self.me: Actor = actor()
        if self.me.role != Role.admin:
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
        try:
            with db_session() as s:
                return action(s)
        except AdminError as e:
            self.on_error(e)
            return _FAILED

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
        log = admin.recent_changes(s, action_prefix)
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
