"""login attempts: failed logins counted per (username, source address) and per address, in the database

The per-user counter (`users.failed_logins`, `users.locked_until`) was read and written back in Python, so
parallel attempts overwrote each other's counts, and any stranger could lock any account. Failures are now
counted by one atomic statement per attempt in `login_attempts`, keyed by the normalised username and the
source address (``username = ''``: every username from that address); the old columns go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username", "source"),
    )
    op.create_index("ix_login_attempts_last_failure_at", "login_attempts", ["last_failure_at"])
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): rebuilding `users` would trip the foreign keys
    # that point at it.
    op.drop_column("users", "failed_logins")
    op.drop_column("users", "locked_until")


def downgrade() -> None:
    op.add_column("users", sa.Column("locked_until", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_login_attempts_last_failure_at", table_name="login_attempts")
    op.drop_table("login_attempts")
