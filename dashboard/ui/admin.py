"""What every administration page shares: admins only, a title, and a message that survives the rerun
after a saved change."""

from __future__ import annotations

import streamlit as st

from dashboard.i18n import t
from dashboard.services.admin import AdminError
from dashboard.services.scope import Actor
from dashboard.ui.common import actor, page_title, plain
from models.enums import Role


class AdminPage:
    """Open an admin page: stop anyone but an admin, show the title and the last change's message."""

    def __init__(self, title_key: str, caption: str, flash_key: str) -> None:
        self.flash_key = flash_key
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


def show_error(e: AdminError) -> None:
    """An administration error in the user's language (field names translated)."""
    st.error(
        t(e.key, **{k: t(f"admin.field.{v}") if k == "field" else plain(v) for k, v in e.params.items()})
    )
