"""case_attachments: the photos of a case, and the two flags that go with them

- ``case_attachments``: one row per stored photo (issue 22); the bytes are in the media store, named by
  the content hash; a removed photo keeps its row (deleted_at/deleted_by) until the retention job.
- ``cases.typical``: 典型案例, marked by the command centre for the meeting report and the wall.
- ``categories.after_photo_required``: resolving a case of the category needs a 处置后 photo; on for the
  categories whose result is seen on the spot (ENV, INF, PRP, SAF), off for the others and for new ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AFTER_PHOTO_CATEGORIES = ("ENV", "INF", "PRP", "SAF")


def upgrade() -> None:
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mime", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["case_events.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["deleted_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_attachments_case", "case_attachments", ["case_id", "deleted_at"])
    op.create_index("ix_case_attachments_hash", "case_attachments", ["content_hash"])
    # Plain ADD COLUMN, not a batch (which would copy the million-row cases table on SQLite): a constant
    # default makes it a change of the table's definition only, on SQLite and PostgreSQL alike.
    op.add_column("cases", sa.Column("typical", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column(
        "categories",
        sa.Column("after_photo_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    categories = sa.table(
        "categories", sa.column("code", sa.String), sa.column("after_photo_required", sa.Boolean)
    )
    op.execute(
        categories.update()
        .where(categories.c.code.in_(AFTER_PHOTO_CATEGORIES))
        .values(after_photo_required=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("after_photo_required")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("typical")
    op.drop_index("ix_case_attachments_hash", table_name="case_attachments")
    op.drop_index("ix_case_attachments_case", table_name="case_attachments")
    op.drop_table("case_attachments")
