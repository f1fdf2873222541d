"""api_client_communities: an API client may be limited to several communities (issue 24)

`api_clients.community_id` (one community, or none for the whole sub-district) becomes one row per
community in `api_client_communities`; a client without rows still covers the whole sub-district.

SQLite drops the column by rebuilding `api_clients` (a batch operation). With foreign keys on, SQLite
refuses to drop a table that other rows point at, so the rows of `api_requests`, `api_callbacks` and
`api_client_communities` (filled just before) are set aside in temporary tables for the rebuild and put
back after it, in the same transaction.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHILDREN = ("api_callbacks", "api_requests", "api_client_communities")
"""The tables whose foreign keys point at `api_clients` while it is rebuilt."""


def _rebuild_clients(change) -> None:  # type: ignore[no-untyped-def]
    """Run `change` on a batch of `api_clients`; on SQLite with the rows pointing at it set aside."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for table in _CHILDREN:
            op.execute(f"CREATE TEMP TABLE _keep_{table} AS SELECT * FROM {table}")  # noqa: S608 (constants)
            op.execute(f"DELETE FROM {table}")  # noqa: S608
    with op.batch_alter_table("api_clients") as batch:
        change(batch)
    if sqlite:
        for table in _CHILDREN:
            op.execute(f"INSERT INTO {table} SELECT * FROM _keep_{table}")  # noqa: S608
            op.execute(f"DROP TABLE _keep_{table}")


def upgrade() -> None:
    op.create_table(
        "api_client_communities",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.PrimaryKeyConstraint("client_id", "community_id"),
    )
    op.execute(
        "INSERT INTO api_client_communities (client_id, community_id) "
        "SELECT id, community_id FROM api_clients WHERE community_id IS NOT NULL"
    )
    _rebuild_clients(lambda batch: batch.drop_column("community_id"))


def downgrade() -> None:
    """A client of several communities keeps the first of them only (a narrower scope, never a wider one)."""

    def add(batch) -> None:  # type: ignore[no-untyped-def]
        batch.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_api_clients_community_id", "communities", ["community_id"], ["id"])

    _rebuild_clients(add)
    op.execute(
        "UPDATE api_clients SET community_id = (SELECT MIN(community_id) FROM api_client_communities "
        "WHERE api_client_communities.client_id = api_clients.id)"
    )
    op.drop_table("api_client_communities")
