"""Small helpers every page uses: the acting user, a database session, safe text, page links and titles.

Number and percent formats are :mod:`dashboard.kernel.formatting`'s.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard.db import session_scope
from dashboard.i18n import current_lang, t, t_plain
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import Markup, escape_markdown
from dashboard.ui.nav import pages_for
from dashboard.ui.own_calendar import calendar_script


def _through_app() -> None:
    """Make sure this page runs inside app.py's navigation.

    Until a process has called ``st.navigation`` once, Streamlit treats a ``pages/`` folder the old way and
    runs a page requested by its address (``/map``) on its own, without app.py. The first request after
    a server start would then skip the login and the role's page list, so turn that mode off and run
    again, through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def actor() -> Actor:
    """The logged-in user. app.py runs pages only after login, so this is always set in a page."""
    _through_app()
    value = st.session_state.get("actor")
    if value is None:
        st.error(t("login.expired"))
        st.stop()
    return value


def page_link(
    path: str,
    label: str,
    icon: str,
    query_params: dict[str, str] | None = None,
    *,
    where: object = st,
) -> None:
    """A link to another page, shown only when the signed-in user's role may open that page.

    Streamlit raises for a link to a page outside the user's navigation, so a page shared by several
    roles must not link blindly (a leader may read coverage but not assign volunteers).
    """
    me = st.session_state.get("actor")
    if me is None or not any(p.path == path for p in pages_for(me.role)):
        return
    where.page_link(path, label=label, icon=icon, query_params=query_params)  # type: ignore[attr-defined]


@contextmanager
def db_session() -> Iterator[Session]:
    """A short database session for reading what a page shows (commit on success); a page action that
    writes goes through :func:`dashboard.ui.errors.run_action` instead."""
    with session_scope() as session:
        yield session


def plain(text: object) -> Markup:
    """User text for Markdown a page builds itself (``f"**{plain(title)}**"``): escaped so it shows literally
    (:func:`dashboard.kernel.text.escape_markdown`, the escaping ``t()`` applies to its values)."""
    return escape_markdown(text)


def selected_rows(event: object, rows: int) -> list[int]:
    """The positions a table's selection (``st.dataframe(on_select=...)``) holds that are still rows of the
    table: the selection outlives the rerun, and another user may have shortened the list in between (a case
    resolved elsewhere leaves the handler's list), so a position past the end is dropped, never indexed."""
    selection = getattr(event, "selection", None)
    return [int(i) for i in (getattr(selection, "rows", None) or []) if 0 <= int(i) < rows]


def chart_text(values: pd.Series) -> pd.Series:
    """Names for a Plotly chart (axis ticks, legend, hover): Plotly reads a few HTML tags, links among them,
    so ``&``, ``<`` and ``>`` become entities and a name shows literally."""
    return values.map(lambda v: v if v is None or v != v else html.escape(str(v), quote=False))


def own_words() -> None:
    """Replace the English that Streamlit's front end writes itself (once per run, from app.py): the
    "Press Enter to apply" and character-count hint under text fields, the file uploader's "Upload" button
    and "50MB per file" line, an empty date field's "yyyy/mm/dd" (as 年/月/日), and its calendar's month and
    weekday names (:mod:`dashboard.ui.own_calendar`). Labels and help say the rest."""
    upload, limit = (
        _css_text(t_plain("app.upload")),
        _css_text(t_plain("app.upload_limit", mb=st.get_option("server.maxUploadSize"))),
    )
    st.html(
        "<style>"
        '[data-testid="InputInstructions"] { display: none; }'
        '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p { font-size: 0; }'
        '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after'
        f" {{ content: {upload}; font-size: 0.875rem; }}"
        '[data-testid="stFileUploaderDropzoneInstructions"] span { font-size: 0; }'
        f'[data-testid="stFileUploaderDropzoneInstructions"] span::after {{ content: {limit}; font-size: 0.75rem; }}'
        + "".join(  # an empty date field's yyyy-mm-dd: each part hidden, its word drawn over it
            f'[data-testid="stDateInputField"] [data-placeholder="true"][data-type="{part}"]::after'
            f" {{ content: {_css_text(t_plain(f'app.date_{part}'))}; visibility: visible; position: absolute;"
            " left: 0; right: 0; text-align: center; }"
            for part in ("year", "month", "day")
        )
        + '[data-testid="stDateInputField"] [data-placeholder="true"] { visibility: hidden; position: relative; }'
        "</style>" + calendar_script(current_lang()),
        unsafe_allow_javascript=True,
    )


def _css_text(text: str) -> str:
    """`text` as a CSS string literal (for ``content:``): quotes and backslashes escaped, no tag can close."""
    escaped = "".join(c if c.isalnum() or c in " ·，。（）" else f"\\{ord(c):x} " for c in text)
    return f'"{escaped}"'


def page_title(key: str, caption: str | None = None) -> None:
    st.title(t(key))
    if caption:
        st.caption(caption)
