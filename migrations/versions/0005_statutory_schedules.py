"""statutory schedules: the days of a year's State Council holiday notice an administrator entered

`chinese_calendar` knows the holidays and swapped workdays (调休) up to 2026 only; for later years the SLA
clocks fell back to weekends and fixed holidays. An administrator now pastes the notice; its days off and
make-up working days are kept here, per notice year, and win over the package.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_statutory_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_calendar_statutory_days_year", "calendar_statutory_days", ["year"])


def downgrade() -> None:
    op.drop_index("ix_calendar_statutory_days_year", table_name="calendar_statutory_days")
    op.drop_table("calendar_statutory_days")
