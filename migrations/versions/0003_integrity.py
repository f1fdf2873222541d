"""integrity: a case-number counter per day, and case_events refused any UPDATE or DELETE

Case numbers came from "the day's highest number + 1" with retries, which concurrent intakes on
PostgreSQL exhausted (number_busy). A counter row per day, taken with one upsert, serialises them
without failures. The case timeline is append-only by rule; the triggers make the database refuse
edits and deletions of it on both backends.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "case_events is append-only"


def upgrade() -> None:
    op.create_table(
        "case_number_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER case_events_no_{verb.lower()} BEFORE {verb} ON case_events "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
            "FOR EACH ROW EXECUTE FUNCTION case_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP FUNCTION IF EXISTS case_events_append_only()")
    op.drop_table("case_number_counters")
