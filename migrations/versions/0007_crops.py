"""Crops: the vectors of each image's five crops (models.CROP_REGIONS), stored for libraries
whose descriptor has ``crops`` on; no rows otherwise.

Revision ID: 0007c
Revises: 0006l
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007c"
down_revision = "0006l"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_crops",
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("image_crops")
