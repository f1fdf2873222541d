"""Other systems that use the Open311 API (系统对接): their keys and scopes, the cases they reported, and the
status changes pushed back to them."""

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class ApiClient(SQLModel, table=True):
    """A system allowed to call the API with a key. Only the key's HMAC (with a per-key salt) is stored; the
    first characters after the tag (`key_prefix`) find the row. Each client acts as its own users row
    (`user_id`), so case timelines and the audit log name it; its communities are
    :class:`ApiClientCommunity` rows (none: the whole sub-district)."""

    __tablename__ = "api_clients"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    key_prefix: str = Field(max_length=16, unique=True)
    key_salt: str = Field(max_length=64)
    key_hash: str = Field(max_length=128)
    can_read: bool = True
    can_write: bool = False
    sees_personal_data: bool = False
    rate_limit: str = Field(default="120/minute", max_length=32, description="a `limits` rate string")
    callback_url: str = Field(default="", max_length=300, description="'' = no status callbacks")
    callback_secret: str = Field(default="", max_length=64, description="signs the callbacks (HMAC)")
    note: str = Field(default="", max_length=200)
    created_at: NaiveDatetime
    created_by: int | None = Field(default=None, foreign_key="users.id")
    rotated_at: NaiveDatetime | None = None
    expires_at: NaiveDatetime | None = None
    revoked_at: NaiveDatetime | None = None
    last_used_at: NaiveDatetime | None = None


class ApiClientCommunity(SQLModel, table=True):
    """A community an API client is limited to. A client without any row covers the whole sub-district;
    with rows, it sees and submits the cases of those communities only."""

    __tablename__ = "api_client_communities"

    client_id: int = Field(foreign_key="api_clients.id", primary_key=True)
    community_id: int = Field(foreign_key="communities.id", primary_key=True)


class ApiRequest(SQLModel, table=True):
    """A case that came in over the API: which client sent it (its status changes go back there) and the
    token the POST answered with."""

    __tablename__ = "api_requests"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    client_id: int = Field(foreign_key="api_clients.id", index=True)
    token: str = Field(max_length=40, unique=True)
    created_at: NaiveDatetime


class ApiCallback(SQLModel, table=True):
    """One status change to push to a client's callback URL (an outbox row written in the change's own
    transaction). A deliverer claims a due row (`claimed_at`, a lease) before it posts, so replicas never
    post the same row twice; a failure schedules the next attempt with back-off until the last one."""

    __tablename__ = "api_callbacks"
    __table_args__ = (Index("ix_api_callbacks_due", "delivered_at", "failed_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="api_clients.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: NaiveDatetime
    attempts: int = 0
    next_attempt_at: NaiveDatetime
    claimed_at: NaiveDatetime | None = None
    claimed_by: str = Field(default="", max_length=64)
    last_error: str = Field(default="", max_length=300)
    delivered_at: NaiveDatetime | None = None
    failed_at: NaiveDatetime | None = Field(default=None, description="gave up after the last attempt")
