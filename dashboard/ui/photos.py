"""The photo capture widget of the case forms: the phone's camera and the album (several files), a strip of
thumbnails of what is chosen with "remove" under each, and the upload done by the case action itself.

The chosen photos live in the session state under the widget's key, not in the widgets: a photo taken or
picked is moved into that list at once and the camera and the uploader start empty again, so one strip
shows everything that will be sent and "remove" needs no second list to keep in step. Nothing is written
until the form is submitted; then :func:`save` runs inside the unit of work of the case action (one
transaction: a refused photo refuses the action, and nothing is stored).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import streamlit as st
from PIL import Image, ImageOps
from sqlmodel import Session

from dashboard.cases import intake as case_intake
from dashboard.i18n import t, t_plain
from dashboard.kernel.scope import Actor
from dashboard.media import attachments
from dashboard.media.checks import gps_point  # importing the checks also lets Pillow read HEIC
from dashboard.ui.common import _css_text, db_session
from models.enums import AttachmentKind

ACCEPT = ("jpg", "jpeg", "png", "webp", "heic", "heif")
"""File endings the album picker offers (the server checks the real content, never the name)."""
MAX_PHOTOS = attachments.MAX_PER_CASE
MAX_MB = attachments.MAX_BYTES // (1024 * 1024)
THUMB_PX = 160
_PREVIEW_PIXELS = 40_000_000
"""Larger pictures get no preview (the server refuses decompression bombs; the browser need not decode one)."""


@dataclass(frozen=True)
class Chosen:
    """One photo chosen in a form: its name as sent, its bytes, and a small JPEG preview (None: unreadable)."""

    digest: str
    name: str
    data: bytes
    thumb: bytes | None
    gps: tuple[float, float] | None = None  # (lon, lat) WGS-84 from the photo's EXIF, when it has one


def preview(data: bytes) -> bytes | None:
    """A small JPEG of `data` for the strip, upright by its EXIF orientation; None when it is no picture
    Pillow can read (the upload will then be refused with the reason)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > _PREVIEW_PIXELS:
                return None
            img.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))
            small = ImageOps.exif_transpose(img).convert("RGB")
            small.thumbnail((THUMB_PX, THUMB_PX))
            out = io.BytesIO()
            small.save(out, "JPEG", quality=75)
            return out.getvalue()
    except Exception:  # any unreadable file: no preview, the server says why it refuses it
        return None


def gps_of(data: bytes) -> tuple[float, float] | None:
    """The (lon, lat) a photo's EXIF GPS block carries (WGS-84, as phones write it), or None.

    Read here, before the upload, so the form can propose the point while the case has no location yet;
    the stored copy has its EXIF stripped by the media service, which keeps the point as a database field.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            lon, lat = gps_point(img.getexif())
    except Exception:  # no picture, or no readable EXIF: no point
        return None
    return None if lon is None or lat is None else (lon, lat)


def _state(key: str) -> list[Chosen]:
    return st.session_state.setdefault(f"{key}__chosen", [])


def _counter(key: str, which: str) -> int:
    return int(st.session_state.get(f"{key}__{which}_no", 0))


def _bump(key: str, which: str) -> None:
    """A fresh, empty widget on the next run (its value has been taken into the list)."""
    st.session_state[f"{key}__{which}_no"] = _counter(key, which) + 1


def _add(key: str, files: list[tuple[str, bytes]]) -> None:
    chosen = _state(key)
    seen = {c.digest for c in chosen}
    for name, data in files:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            chosen.append(Chosen(digest, name, data, preview(data), gps_of(data)))


def _take_shot(key: str, widget_key: str) -> None:
    shot = st.session_state.get(widget_key)
    if shot is not None:
        _add(key, [(shot.name or "camera.jpg", shot.getvalue())])
        _bump(key, "camera")


def _take_files(key: str, widget_key: str) -> None:
    files = st.session_state.get(widget_key) or []
    _add(key, [(f.name, f.getvalue()) for f in files])
    _bump(key, "files")


def _remove(key: str, digest: str) -> None:
    st.session_state[f"{key}__chosen"] = [c for c in _state(key) if c.digest != digest]


def chosen(key: str) -> list[Chosen]:
    """The photos chosen so far in the widget `key`."""
    return list(_state(key))


def preset(key: str, files: list[Chosen]) -> None:
    """Start the widget `key` with `files` (photos carried over from another form, e.g. a visit)."""
    st.session_state[f"{key}__chosen"] = list(files)


def clear(key: str) -> None:
    """Forget the photos of widget `key` (after they were saved, or the form was abandoned)."""
    st.session_state.pop(f"{key}__chosen", None)


def _own_words(key: str) -> None:
    """The album button, the camera's button and its permission line speak the UI language, the buttons
    are tall enough to tap, and the uploader's own size line gives way to our caption (which names the
    photo limits). The original words stay in the page but hidden, with the label drawn over them, so no
    text is left at a zero font size (our own CSS; the labels are the catalogue's, as CSS string literals)."""
    box = f".st-key-{key}__box"
    pick, take = _css_text(t_plain("photos.upload")), _css_text(t_plain("photos.use_camera"))
    allow = _css_text(t_plain("photos.camera_permission"))
    ask = f'{box} [data-testid="stCameraInput"] div:has(> a[target="_blank"])'  # "would like to use your camera"
    relabel = "visibility: hidden; position: relative; font-size: 0.875rem; min-width: 5em;"
    label = "visibility: visible; position: absolute; left: 0; right: 0; top: 0; text-align: center;"
    st.html(
        "<style>"
        f'{box} [data-testid="stFileUploaderDropzoneInstructions"] {{ display: none; }}'
        f'{box} [data-testid="stFileUploaderDropzone"] button, {box} [data-testid="stCameraInputButton"]'
        " { min-height: 3rem; }"  # touch-sized, as the other buttons of the phone pages
        f'{box} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p'
        f" {{ {relabel} }}"
        f'{box} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after'
        f" {{ content: {pick}; {label} font-size: 0.875rem; }}"
        f'{box} [data-testid="stCameraInputButton"] {{ color: transparent; position: relative; }}'
        f'{box} [data-testid="stCameraInputButton"]::after {{ content: {take}; color: #1f2933;'
        " position: absolute; left: 0; right: 0; text-align: center; }"
        f"{ask} {{ {relabel} }}"
        f"{ask}::after {{ content: {allow}; {label} }}"
        "</style>"
    )


def capture(key: str, *, title: str | None = None, camera: bool = True) -> list[Chosen]:
    """The capture widget: camera (behind a toggle, so no page asks for the camera unasked) and album,
    then the strip of chosen photos. Returns the chosen photos (not yet uploaded)."""
    with st.container(border=True, key=f"{key}__box"):
        _own_words(key)
        st.markdown(f"**{title or t('photos.section')}**")
        st.caption(t("photos.add_hint", max=MAX_PHOTOS, mb=MAX_MB))
        if camera and st.toggle(t("photos.use_camera"), key=f"{key}__camera_on"):
            cam_key = f"{key}__camera{_counter(key, 'camera')}"
            st.camera_input(
                t("photos.camera"),
                key=cam_key,
                label_visibility="collapsed",
                on_change=_take_shot,
                args=(key, cam_key),
            )
        files_key = f"{key}__files{_counter(key, 'files')}"
        st.file_uploader(
            t("photos.upload"),
            type=list(ACCEPT),
            accept_multiple_files=True,
            key=files_key,
            label_visibility="collapsed",
            on_change=_take_files,
            args=(key, files_key),
        )
        chosen_now = _state(key)
        strip(key, chosen_now)
    return list(chosen_now)


def strip(key: str, photos: list[Chosen]) -> None:
    """The thumbnails of the chosen photos, each with its "remove" button (wraps on a phone)."""
    if not photos:
        return
    if len(photos) > MAX_PHOTOS:
        st.warning(t("photos.too_many", max=MAX_PHOTOS, extra=len(photos) - MAX_PHOTOS))
    else:
        st.caption(t("photos.chosen", count=len(photos)))
    with st.container(horizontal=True, gap="small", key=f"{key}__strip"):
        for i, photo in enumerate(photos):
            with st.container(border=True, width=118, gap="small", key=f"{key}__item{i}"):
                if photo.thumb is not None:
                    st.image(photo.thumb, width=96)
                else:
                    st.caption(t("photos.no_preview"))
                st.button(
                    t("photos.remove"),
                    key=f"{key}__rm_{photo.digest[:16]}",
                    icon=":material/close:",
                    width="stretch",
                    on_click=_remove,
                    args=(key, photo.digest),
                )


def location_choice(key: str, photos: list[Chosen], grids: dict[int, str]) -> tuple[float, float] | None:
    """When a chosen photo carries GPS: propose its point and the grid it falls in (`grids`: the grids the
    user may record in, id → name). Returns the point once the user has ticked "use it"; a point outside
    those grids is named as such and not offered."""
    point = next((p.gps for p in photos if p.gps is not None), None)
    if point is None:
        return None
    with db_session() as s:
        grid_id = case_intake.locate_grid(s, *point)
    if grid_id not in grids:
        st.caption(t("photos.location_outside"))
        return None
    lon, lat = point
    use = st.checkbox(
        t("photos.location_use_intake", lon=f"{lon:.6f}", lat=f"{lat:.6f}", grid=grids[grid_id]),  # type: ignore[index]
        key=f"{key}__use_gps",
    )
    return point if use else None


def save(
    session: Session,
    me: Actor,
    photos: list[Chosen],
    *,
    case_id: int,
    kind: AttachmentKind,
    event_id: int | None = None,
) -> list[int]:
    """Store `photos` on the case, inside the caller's unit of work (call it from the function that
    :func:`dashboard.ui.errors.run_action` runs); a refused photo raises and the whole action is undone."""
    if not photos:
        return []
    files = [(p.name, p.data) for p in photos]
    return attachments.add_photos(session, me, case_id=case_id, kind=kind, files=files, event_id=event_id)
