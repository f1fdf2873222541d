"""Photos of a case (上报照片, 处置前, 处置后, 回访, 其他): one row per stored photo, its bytes in the media store.

The row keeps what the photo's EXIF said (taken_at, GPS) once the stored bytes have lost their metadata;
`content_hash` (sha256 of the stripped original) names the objects in the store. A removed photo keeps its
row (`deleted_at`, `deleted_by`); its bytes stay until the retention job (``python -m dashboard media prune``).
"""

from pydantic import NaiveDatetime
from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from models.enums import AttachmentKind


class CaseAttachment(SQLModel, table=True):
    __tablename__ = "case_attachments"
    __table_args__ = (
        Index("ix_case_attachments_case", "case_id", "deleted_at"),
        Index("ix_case_attachments_hash", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    event_id: int | None = Field(default=None, foreign_key="case_events.id")
    kind: AttachmentKind = Field(sa_type=String(16))
    content_hash: str = Field(max_length=64, description="sha256 hex of the stripped original")
    mime: str = Field(max_length=32, description="of the stored original")
    size: int = Field(description="bytes of the stored original")
    width: int
    height: int
    taken_at: NaiveDatetime | None = None
    lon: float | None = Field(default=None, description="EXIF GPS, WGS-84")
    lat: float | None = None
    uploaded_by: int | None = Field(default=None, foreign_key="users.id")
    uploaded_at: NaiveDatetime
    public: bool = False
    deleted_at: NaiveDatetime | None = None
    deleted_by: int | None = Field(default=None, foreign_key="users.id")
