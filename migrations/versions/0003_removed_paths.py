"""Removed paths: what `imgsearch remove` took out, honoured by later index runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "removed_paths",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer(),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rel_path", sa.String(4096), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("collection_id", "rel_path", name="uq_removed_paths_collection_path"),
    )
    op.create_index("ix_removed_paths_collection_id", "removed_paths", ["collection_id"])


def downgrade() -> None:
    op.drop_index("ix_removed_paths_collection_id", table_name="removed_paths")
    op.drop_table("removed_paths")
