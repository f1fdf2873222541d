"""Residents in the loop (issue 23): what the public pages write — the lookup credentials of a resident's
report, 附议 (+1) on an existing case, the counters of the abuse limits and the blocked phone numbers.

No row holds a lookup code or a phone number in clear: codes and phones are stored as HMAC-SHA256 digests
keyed with the server's secret (a per-row salt for codes), phones of supporters also masked for display.
The reporter's own name and phone, when given with consent, are on the case like any reporter's.
"""

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class PublicReport(SQLModel, table=True):
    """One resident's right to follow a case: the reporter of a public report (`kind` "report") or a
    resident whose matching report became a 附议 on it (`kind` "support"). The receipt's 查询码 proves it
    (its digest with `code_salt`), or the last four digits of the phone given (`phone_tail_hash`).

    The rating (评价) is kept here; `rating_counted` says whether it became the case's 回访 result
    (居民自评), which it does unless staff had already followed up."""

    __tablename__ = "public_reports"
    __table_args__ = (Index("ix_public_reports_created_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(default="report", max_length=16, description="report | support")
    code_salt: str = Field(max_length=32)
    code_hash: str = Field(max_length=64)
    phone_hash: str = Field(default="", max_length=64, description="'' when no phone was given")
    phone_tail_hash: str = Field(default="", max_length=64)
    consent: bool = False
    source: str = Field(default="", max_length=64, description="the client address it came from")
    created_at: NaiveDatetime
    rating: str | None = Field(default=None, max_length=16, description="a Satisfaction value")
    rating_comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    rated_at: NaiveDatetime | None = None
    rating_counted: bool = False
    spam_at: NaiveDatetime | None = None


class CaseSupporter(SQLModel, table=True):
    """附议: a resident's report that matched an open case (same category, 50 m, 24 h) and was added to it
    as +1 instead of becoming a duplicate."""

    __tablename__ = "case_supporters"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: NaiveDatetime = Field(index=True)
    source: str = Field(default="", max_length=64)
    phone_hash: str = Field(default="", max_length=64)
    phone_masked: str = Field(default="", max_length=16)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class PublicAttempt(SQLModel, table=True):
    """A counter of the public pages' limits: `count` events of `bucket` for `key` (a source address, a
    phone digest, a case number) in the fixed window starting at `window_start`; `locked_until` on a
    lock row (a lookup locked after too many wrong codes)."""

    __tablename__ = "public_attempts"
    __table_args__ = (Index("ix_public_attempts_window_start", "window_start"),)

    bucket: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=128)
    window_start: NaiveDatetime = Field(primary_key=True)
    count: int = 0
    locked_until: NaiveDatetime | None = None


class BlockedPhone(SQLModel, table=True):
    """A phone number refused on the public pages (spam), blocked by an operator."""

    __tablename__ = "blocked_phones"

    phone_hash: str = Field(primary_key=True, max_length=64)
    phone_masked: str = Field(default="", max_length=16)
    reason: str = Field(default="", max_length=200)
    blocked_by: int | None = Field(default=None, foreign_key="users.id")
    blocked_at: NaiveDatetime
