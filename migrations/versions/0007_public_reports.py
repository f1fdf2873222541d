"""public_reports: residents' reports from the public pages (issue 23)

`public_reports` (a resident's lookup credential for a case, and the rating), `case_supporters` (附议),
`public_attempts` (the counters of the public pages' rate limits and lookup locks) and `blocked_phones`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code_salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_tail_hash", sa.String(length=64), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=True),
        sa.Column("rating_counted", sa.Boolean(), nullable=False),
        sa.Column("spam_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_public_reports_case_id", "public_reports", ["case_id"])
    op.create_index("ix_public_reports_created_at", "public_reports", ["created_at"])
    op.create_table(
        "case_supporters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_masked", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_supporters_case_id", "case_supporters", ["case_id"])
    op.create_index("ix_case_supporters_at", "case_supporters", ["at"])
    op.create_table(
        "public_attempts",
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("bucket", "key", "window_start"),
    )
    op.create_index("ix_public_attempts_window_start", "public_attempts", ["window_start"])
    op.create_table(
        "blocked_phones",
        sa.Column("phone_hash", sa.String(length=64), primary_key=True),
        sa.Column("phone_masked", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("blocked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("blocked_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("blocked_phones")
    op.drop_index("ix_public_attempts_window_start", table_name="public_attempts")
    op.drop_table("public_attempts")
    op.drop_index("ix_case_supporters_at", table_name="case_supporters")
    op.drop_index("ix_case_supporters_case_id", table_name="case_supporters")
    op.drop_table("case_supporters")
    op.drop_index("ix_public_reports_created_at", table_name="public_reports")
    op.drop_index("ix_public_reports_case_id", table_name="public_reports")
    op.drop_table("public_reports")
