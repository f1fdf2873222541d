"""The photos a 进度查询 shows: those of the case that the command centre marked public (照片公开,
:func:`dashboard.media.attachments.set_public`, after checking them for faces and number plates), as
thumbnails linking to the large form.

They are served by ``/public/photo/{id}/{thumb|large}`` only to the browser whose lookup proved its right to
that case (number + 查询码 or phone digits: the signed view cookie of :mod:`dashboard.residents.web`), never by
the id alone, and never a photo that is not public, removed, or of another case. A resident's own report
photos are stored like staff photos, not public (the photos issue's default): they appear here once staff
have marked them. Bytes are the media service's renditions (re-encoded, no EXIF).
"""

from __future__ import annotations

from sqlmodel import Session, select

from dashboard.media.attachments import stored_bytes
from dashboard.media.renditions import SIZES
from models import CaseAttachment, PublicReport


def public_photo_ids(session: Session, case_id: int) -> tuple[int, ...]:
    """The live photos of the case marked public, in the order they were taken up (oldest first)."""
    rows = session.exec(
        select(CaseAttachment.id)
        .where(
            CaseAttachment.case_id == case_id,
            CaseAttachment.public.is_(True),  # type: ignore[attr-defined]
            CaseAttachment.deleted_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(CaseAttachment.uploaded_at, CaseAttachment.id)
    ).all()
    return tuple(int(r) for r in rows)


def public_photo(session: Session, report_id: int, attachment_id: int, size: str) -> tuple[bytes, str] | None:
    """The bytes and MIME type of a public photo of the case the lookup row `report_id` proves, or None
    (an unknown row, a size that is no rendition, a photo not public, removed or of another case)."""
    if size not in SIZES:
        return None
    row = session.get(PublicReport, report_id)
    if row is None or attachment_id not in public_photo_ids(session, row.case_id):
        return None
    return stored_bytes(session, attachment_id, size)
