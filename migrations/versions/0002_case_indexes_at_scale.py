"""case indexes for a million cases

Partial indexes of the running and of the open cases (a fraction of a percent of all cases), an index per
grid by report time for the blind-spot figure, and no single-column indexes that a composite index
already leads with (each costs writes and misleads SQLite's planner at scale).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('reported', 'accepted', 'dispatched', 'in_progress')"
_OPEN = "status IN ('reported', 'accepted', 'dispatched', 'in_progress', 'resolved', 'verified')"
_REDUNDANT = {
    "ix_cases_category_id": ["category_id"],
    "ix_cases_community_id": ["community_id"],
    "ix_cases_grid_id": ["grid_id"],
    "ix_cases_source": ["source"],
    "ix_cases_status": ["status"],
}


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in _REDUNDANT:
            batch_op.drop_index(name)
        for name, where in (("ix_cases_active", _ACTIVE), ("ix_cases_open", _OPEN)):
            batch_op.create_index(
                name,
                ["status", "due_at"],
                unique=False,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )
        batch_op.create_index("ix_cases_grid_reported", ["grid_id", "reported_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_grid_reported")
        batch_op.drop_index("ix_cases_open")
        batch_op.drop_index("ix_cases_active")
        for name, columns in _REDUNDANT.items():
            batch_op.create_index(name, columns, unique=False)
