"""api_clients: other systems calling the Open311 API, the cases they reported, the callbacks to push

`api_clients` holds each client's hashed key, scopes, rate limit and callback URL (issue 24);
`api_requests` maps a case that came in over the API to its client and token; `api_callbacks` is the outbox
of status changes to push back, claimed by one deliverer at a time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _S(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_prefix", _S(length=16), nullable=False),
        sa.Column("key_salt", _S(length=64), nullable=False),
        sa.Column("key_hash", _S(length=128), nullable=False),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("sees_personal_data", sa.Boolean(), nullable=False),
        sa.Column("rate_limit", _S(length=32), nullable=False),
        sa.Column("callback_url", _S(length=300), nullable=False),
        sa.Column("callback_secret", _S(length=64), nullable=False),
        sa.Column("note", _S(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("user_id"),
        sa.UniqueConstraint("key_prefix"),
    )
    op.create_table(
        "api_requests",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("token", _S(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_api_requests_client_id", "api_requests", ["client_id"])
    op.create_table(
        "api_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", _S(length=64), nullable=False),
        sa.Column("last_error", _S(length=300), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_callbacks_client_id", "api_callbacks", ["client_id"])
    op.create_index("ix_api_callbacks_case_id", "api_callbacks", ["case_id"])
    op.create_index("ix_api_callbacks_due", "api_callbacks", ["delivered_at", "failed_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_api_callbacks_due", table_name="api_callbacks")
    op.drop_index("ix_api_callbacks_case_id", table_name="api_callbacks")
    op.drop_index("ix_api_callbacks_client_id", table_name="api_callbacks")
    op.drop_table("api_callbacks")
    op.drop_index("ix_api_requests_client_id", table_name="api_requests")
    op.drop_table("api_requests")
    op.drop_table("api_clients")
