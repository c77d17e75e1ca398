"""Remembered excludes: the ``--exclude`` patterns of each collection, applied by every later
index run of it (`index` without folders, `reindex`) until replaced or dropped; libraries
made before have none (nothing changes for them).

Revision ID: 0008e
Revises: 0007c
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008e"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_excludes",
        sa.Column(
            "collection_id",
            sa.Integer(),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("pattern", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("collection_excludes")
