"""Showing a case's photos: the gallery by kind, before and after side by side, the operator's controls
(public, 典型案例, delete) and the location a photo proposes.

Pictures on the pages are ``<img>`` of the app's own session-checked routes (``PhotoView.thumb_url`` and
``large_url``), so every view asks the server again and the page carries no photo bytes; the HTML is a fixed
template whose only values are escaped (``html.escape``), never user text as markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

import streamlit as st

from dashboard.i18n import t, t_plain
from dashboard.kernel import privacy
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.media import attachments
from dashboard.media.attachments import PhotoView
from dashboard.territory import lookups as territory
from dashboard.ui import photos as capture
from dashboard.ui.common import db_session
from dashboard.ui.errors import run_action
from models.enums import AttachmentKind

K = AttachmentKind
KIND_ORDER: tuple[AttachmentKind, ...] = (K.report, K.before, K.after, K.followup, K.other)
BEFORE_KINDS = frozenset({K.report, K.before})
"""What the "before" half of the comparison shows: the report's photos and those taken before handling."""
FLASH_KEY = "case_flash"  # the case page's one-line confirmation (dashboard.ui.cases.FLASH_KEY)
MANAGE = attachments.MANAGE
"""Who marks photos public and cases typical and deletes photos (the command centre); the service checks."""


def kind_label(kind: AttachmentKind) -> str:
    """上报照片, 处置前 …: what a photo shows, as Markdown."""
    return t(f"photos.kind.{kind.value}")


def kind_text(kind: AttachmentKind) -> str:
    """The kind as plain text (select options, ``alt`` attributes)."""
    return t_plain(f"photos.kind.{kind.value}")


def _when(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _src(url: str) -> str:
    """A route of this app as an attribute value (the server's base path in front, when it has one)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return html.escape(f"/{base}{url}" if base else url, quote=True)


def img_html(url: str, alt: str, *, css_class: str) -> str:
    """One picture of the app's own route `url` (loaded when it comes into view)."""
    return f'<img class="{css_class}" src="{_src(url)}" alt="{html.escape(alt, quote=True)}" loading="lazy">'


_CSS = """<style>
.case-photo-thumb { width: 100%; height: 150px; object-fit: cover; border-radius: 0.4rem; display: block;
  background: #eef1f4; }
.case-photo-large { width: 100%; max-height: 62vh; object-fit: contain; border-radius: 0.4rem; display: block;
  background: #eef1f4; }
</style>"""


def _photo_card(me: Actor, photo: PhotoView, *, manage: bool, key: str) -> None:
    """One photo of the gallery: the thumbnail, kind, who and when, the large one on demand (a link could
    not open a new tab: st.html keeps no ``target``); the operator's "public" switch and "delete" under it."""
    with st.container(border=True, width=220, gap="small", key=f"{key}_{photo.id}"):
        st.html(img_html(photo.thumb_url, kind_text(photo.kind), css_class="case-photo-thumb"))
        line = [
            kind_label(photo.kind),
            t("photos.uploaded", who=photo.uploaded_by, at=_when(photo.uploaded_at)),
        ]
        if photo.taken_at is not None:
            line.append(t("photos.taken_at", at=_when(photo.taken_at)))
        if photo.public:
            line.append(t("photos.public"))
        st.caption(" · ".join(line))  # labels, and t() texts whose values are escaped
        with st.popover(t("photos.open_large"), icon=":material/zoom_in:", width="stretch"):
            st.html(img_html(photo.large_url, kind_text(photo.kind), css_class="case-photo-large"))
        if not manage:
            return
        if st.button(
            t("photos.unmark_public" if photo.public else "photos.mark_public"),
            key=f"{key}_pub_{photo.id}",
            help=t("photos.public_help"),
            width="stretch",
        ):
            _flash_after(
                run_action(
                    lambda s: attachments.set_public(s, me, attachment_id=photo.id, public=not photo.public)
                ),
                "photos.unpublic_done" if photo.public else "photos.public_done",
            )
        with st.popover(t("photos.remove_photo"), width="stretch"):
            reason = st.text_input(
                t("photos.remove_reason") + " *", key=f"{key}_why_{photo.id}", max_chars=200
            )
            if st.button(t("app.confirm"), key=f"{key}_rm_{photo.id}", type="primary"):
                _flash_after(
                    run_action(
                        lambda s: attachments.remove_photo(s, me, attachment_id=photo.id, reason=reason or "")
                    ),
                    "photos.remove_done",
                )


def _flash_after(result: tuple[bool, object], key: str, **values: object) -> None:
    if result[0]:
        st.session_state[FLASH_KEY] = t(key, **values)
        st.rerun()


def gallery(me: Actor, photos: Sequence[PhotoView], *, key: str = "gallery") -> None:
    """Every photo of a case, grouped by kind in the order of the case loop."""
    st.html(_CSS)
    if not photos:
        st.caption(t("photos.none"))
        return
    manage = may(me, MANAGE)
    for kind in KIND_ORDER:
        of_kind = [p for p in photos if p.kind == kind]
        if not of_kind:
            continue
        st.markdown(f"**{kind_label(kind)}**（{len(of_kind)}）")
        with st.container(horizontal=True, gap="small", key=f"{key}_{kind.value}"):
            for photo in of_kind:
                _photo_card(me, photo, manage=manage, key=key)


def before_after(photos: Sequence[PhotoView], *, key: str = "compare") -> None:
    """Before (report and before-handling photos) on the left, after on the right, large enough to judge
    the work; each side newest first (three at most)."""
    st.html(_CSS)
    before = [p for p in photos if p.kind in BEFORE_KINDS]
    after = [p for p in photos if p.kind == K.after]
    left, right = st.columns(2, gap="medium")
    for column, title, shown, empty in (
        (left, "photos.before", before, "photos.no_before"),
        (right, "photos.after", after, "photos.no_after"),
    ):
        with column, st.container(key=f"{key}_{title.rsplit('.', 1)[1]}"):
            st.markdown(f"**{t(title)}**")
            if not shown:
                st.caption(t(empty))
            for photo in sorted(shown, key=lambda p: p.uploaded_at, reverse=True)[:3]:
                st.html(img_html(photo.large_url, kind_text(photo.kind), css_class="case-photo-large"))
                st.caption(
                    f"{kind_label(photo.kind)} · "
                    + (
                        t("photos.taken_at", at=_when(photo.taken_at))
                        if photo.taken_at
                        else _when(photo.uploaded_at)
                    )
                )


def has_comparison(photos: Iterable[PhotoView]) -> bool:
    kinds = {p.kind for p in photos}
    return bool(kinds & BEFORE_KINDS) and K.after in kinds


def photos_per_event(photos: Iterable[PhotoView]) -> dict[int, int]:
    """How many photos each case event brought (for the timeline's photo column)."""
    counts: dict[int, int] = {}
    for photo in photos:
        if photo.event_id is not None:
            counts[photo.event_id] = counts.get(photo.event_id, 0) + 1
    return counts


def event_photos_text(count: int) -> str:
    return t_plain("photos.event_photos", count=count) if count else ""


def location_proposal(me: Actor, case_id: int, version: int, photos: Sequence[PhotoView]) -> None:
    """When a photo carries GPS and the case has no location yet: propose the point and its grid; the user
    confirms (the media service locates the case, with a timeline note). Only for the roles that see exact
    locations (the others get no point in `photos`)."""
    photo = next((p for p in photos if p.lon is not None and p.lat is not None), None)
    if photo is None or not privacy.sees_exact_location(me):
        return
    with db_session() as s:
        found = attachments.photo_location(s, attachment_id=photo.id)
        grids = territory.grids(s) if found is not None else None
    if found is None or grids is None:
        return
    lon, lat, grid_id = found
    names = {int(r.id): f"{r.code} {r.name}" for r in grids.itertuples()}
    grid = t("photos.location_grid", grid=names[grid_id]) if grid_id in names else ""
    with st.container(border=True, key="photo_location"):
        st.info(
            t("photos.location_found", lon=f"{lon:.6f}", lat=f"{lat:.6f}", grid=grid),
            icon=":material/location_on:",
        )
        if st.button(t("photos.location_use"), key="photo_location_use", type="primary"):
            _flash_after(
                run_action(
                    lambda s: attachments.use_photo_location(
                        s, me, case_id=case_id, version=version, attachment_id=photo.id
                    )
                ),
                "photos.location_done",
            )


def typical_switch(me: Actor, case_id: int, typical: bool) -> None:
    """The command centre's 典型案例 mark on a case (for the meeting report); others see the badge."""
    if not may(me, MANAGE):
        if typical:
            st.markdown(f":orange-badge[{t('photos.typical')}]")
        return
    if st.button(
        t("photos.unmark_typical" if typical else "photos.mark_typical"),
        key="photo_typical",
        icon=":material/star:",
        help=t("photos.typical_help"),
    ):
        _flash_after(
            run_action(lambda s: attachments.mark_typical(s, me, case_id=case_id, typical=not typical)),
            "photos.untypical_done" if typical else "photos.typical_done",
        )


def _upload(me: Actor, case_id: int, key: str) -> None:
    """Add photos to a case from its page: the kind, the files, and the upload (one unit of work)."""
    kind = st.selectbox(
        t("photos.kind_label"), list(KIND_ORDER), key=f"{key}_kind", format_func=kind_text, index=4
    )
    chosen = capture.capture(f"{key}_files", camera=False)
    if chosen and st.button(
        t("photos.upload_button"), key=f"{key}_go", type="primary", icon=":material/upload:"
    ):
        ok, ids = run_action(lambda s: capture.save(s, me, chosen, case_id=case_id, kind=kind))
        if ok:
            capture.clear(f"{key}_files")
            _flash_after((ok, ids), "photos.uploaded_done", count=len(ids or []))


def case_section(
    me: Actor,
    case_id: int,
    version: int,
    shown: Sequence[PhotoView],
    *,
    located: bool,
    typical: bool,
    may_add: bool,
) -> None:
    """The case page's photos: the 典型案例 mark, a location a photo proposes, before/after side by side,
    the gallery by kind and, for those who work on the case, the upload."""
    with st.container(horizontal=True, vertical_alignment="center", key="case_photos_head"):
        st.subheader(t("photos.count", count=len(shown)), width="stretch")
        typical_switch(me, case_id, typical)
    if not located:
        location_proposal(me, case_id, version, shown)
    if has_comparison(shown):
        with st.expander(t("photos.compare"), expanded=True, icon=":material/compare:"):
            before_after(shown, key="case_compare")
    gallery(me, shown)
    if may_add:
        with st.expander(t("photos.upload_button"), icon=":material/add_a_photo:"):
            _upload(me, case_id, "case_upload")
