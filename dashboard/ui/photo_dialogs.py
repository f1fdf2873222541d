"""The action dialogs that carry photos (registered in :data:`dashboard.ui.cases.ACTION_FIELDS`): start
takes 处置前 photos, resolve takes 处置后 photos (required for the categories marked so), and verify shows
before and after side by side, large enough to judge the work, above its note.

Photos chosen in a dialog are uploaded by the dialog's own action, in its unit of work: resolve and its
after-photos commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st
from sqlmodel import Session

from dashboard.cases import commands as cases
from dashboard.cases.change import CaseRef
from dashboard.i18n import t
from dashboard.media import attachments
from dashboard.ui import photos as capture
from dashboard.ui.common import db_session
from dashboard.ui.photo_views import before_after
from models.enums import AttachmentKind

if TYPE_CHECKING:
    from dashboard.ui.cases import ActionDialog

ActionCall = Callable[[Session], object]


def _with_photos(
    dlg: ActionDialog, kind: AttachmentKind, act: Callable[[Session], CaseRef], photo_key: str
) -> ActionCall:
    """`act`, then the chosen photos attached to the event it wrote, in one unit of work."""
    chosen = capture.chosen(photo_key)

    def call(s: Session) -> object:
        ref = act(s)
        capture.save(s, dlg.me, chosen, case_id=dlg.case.id, kind=kind, event_id=ref.event_id)
        capture.clear(photo_key)
        return ref

    return call


def start_fields(dlg: ActionDialog) -> ActionCall:
    """开始处置: an optional note and the photos of the scene before the work."""
    photo_key = f"{dlg.key}_photos"
    capture.capture(photo_key, title=t("photos.before_hint"))
    note = dlg.note()
    return _with_photos(
        dlg,
        AttachmentKind.before,
        lambda s: cases.start(s, dlg.me, dlg.case.id, dlg.version, note),
        photo_key,
    )


def resolve_fields(dlg: ActionDialog) -> ActionCall:
    """处置完毕: the result (required) and the after-photos, which some categories require."""
    with db_session() as s:
        required = attachments.require_after_photo(s, dlg.case.id)
    if required:
        st.info(t("photos.after_required"), icon=":material/photo_camera:")
    photo_key = f"{dlg.key}_photos"
    capture.capture(photo_key, title=t("photos.after_hint"))
    note = dlg.note(required=True, label_key="actions.resolve_note")
    return _with_photos(
        dlg,
        AttachmentKind.after,
        lambda s: cases.resolve(s, dlg.me, dlg.case.id, dlg.version, note),
        photo_key,
    )


def verify_fields(dlg: ActionDialog) -> ActionCall:
    """核查: before and after side by side, then the note."""
    with db_session() as s:
        shown = attachments.photos_of(s, dlg.me, case_id=dlg.case.id)
    st.markdown(f"**{t('photos.compare')}**")
    before_after(shown, key=f"{dlg.key}_compare")
    note = dlg.note()
    return lambda s: cases.verify(s, dlg.me, dlg.case.id, dlg.version, note)
