"""The 二维码 part of the admin 社区与网格 page: QR posters (PDF and PNG) of a grid or one of its buildings,
the posters of all buildings of a grid, and the batch of a whole community (one PDF, a page per grid).

Files are drawn only when their download button is pressed (Streamlit calls the data function then), so the
page itself draws one small preview.
"""

from __future__ import annotations

import streamlit as st

from dashboard.admin import settings
from dashboard.i18n import current_lang, t
from dashboard.kernel.errors import DomainError
from dashboard.kernel.scope import Actor
from dashboard.residents import posters
from dashboard.residents.posters import Poster
from dashboard.ui.common import db_session, page_link
from dashboard.ui.errors import show_error

BASE_URL_KEY = "residents.public_base_url"
SETTINGS_PAGE = "pages/admin_settings.py"
PREVIEW_SCALE = 0.25
"""The preview is a quarter of the 300 dpi page: 620 × 877 pixels, readable and quick to draw."""


def _base_url() -> str:
    """The residents' address; a warning (with a link to the settings) while it is the built-in default,
    which residents' phones cannot open."""
    with db_session() as s:
        base = str(settings.get_setting(s, BASE_URL_KEY))
        unset = settings.is_default(s, BASE_URL_KEY)
    if unset:
        st.warning(t("qr.base_default", url=base), icon=":material/warning:")
        page_link(SETTINGS_PAGE, t("qr.settings_link"), ":material/settings:")
    return base


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _preview(poster: Poster, lang: str) -> bytes:
    return posters.poster_png(poster, lang, scale=PREVIEW_SCALE)


def community_section(me: Actor, community_id: int, community_code: str) -> None:
    """The batch download of a community: every grid's poster in one PDF, a page each."""
    with st.expander(t("qr.community_title"), icon=":material/qr_code_2:"):
        st.caption(t("qr.community_help"))
        base = _base_url()
        try:
            with db_session() as s:
                items = posters.community_posters(s, me, community_id, base)
        except DomainError as err:
            show_error(err)
            return
        if not items:
            st.info(t("qr.community_none"))
            return
        lang = current_lang()
        st.download_button(
            t("qr.community_pdf", n=len(items)),
            data=lambda: posters.posters_pdf(items, lang),
            file_name=f"qr-posters-{community_code}.pdf",
            mime="application/pdf",
            icon=":material/download:",
            key=f"qr_comm_{community_id}",
        )


def grid_section(me: Actor, grid_id: int) -> None:
    """One grid's poster, or one of its buildings', to download as PDF or PNG, with a preview; and the
    posters of all its buildings in one PDF."""
    st.caption(t("qr.grid_help"))
    base = _base_url()
    try:
        with db_session() as s:
            whole = posters.grid_poster(s, me, grid_id, base)
            buildings = posters.building_posters(s, me, grid_id, base)
    except DomainError as err:
        show_error(err)
        return
    by_id = {p.building_id: p for p in buildings}
    place = st.selectbox(
        t("qr.place"),
        [None, *by_id],
        format_func=lambda b: t("qr.whole_grid") if b is None else by_id[b].building_name,
        key=f"qr_place_{grid_id}",
    )
    poster = whole if place is None else by_id[place]
    st.markdown(t("qr.target"))
    st.code(poster.url, language=None)
    lang = current_lang()
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        t("qr.pdf"),
        data=lambda: posters.posters_pdf([poster], lang),
        file_name=f"poster-{poster.file_stem}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key=f"qr_pdf_{grid_id}",
        type="primary",
    )
    c2.download_button(
        t("qr.png"),
        data=lambda: posters.poster_png(poster, lang),
        file_name=f"poster-{poster.file_stem}.png",
        mime="image/png",
        icon=":material/image:",
        key=f"qr_png_{grid_id}",
    )
    if buildings:
        c3.download_button(
            t("qr.buildings_pdf", n=len(buildings)),
            data=lambda: posters.posters_pdf(buildings, lang),
            file_name=f"posters-{whole.grid_code}-buildings.pdf",
            mime="application/pdf",
            icon=":material/download:",
            key=f"qr_bld_{grid_id}",
        )
    try:
        st.image(_preview(poster, lang), caption=t("qr.preview"), width=420)
    except DomainError as err:  # no CJK font on this server
        show_error(err)
