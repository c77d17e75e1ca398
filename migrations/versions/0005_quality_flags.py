"""Quality flags: a bit-set of flags measured at index time (dark, bright, blurry, tiny,
uniform) and the measures that explain them; NULL = not measured yet (rows indexed before
this revision: the next `imgsearch index` measures them).

Revision ID: 0005q
Revises: 0004v
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005q"
down_revision = "0004v"
branch_labels = None
depends_on = None

COLUMNS = ("quality_flags", "brightness", "contrast", "luma_p5", "luma_p95", "sharpness")


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("quality_flags", sa.Integer(), nullable=True))
        for name in COLUMNS[1:]:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
    op.create_index("ix_images_quality_flags", "images", ["quality_flags"])


def downgrade() -> None:
    op.drop_index("ix_images_quality_flags", table_name="images")
    with op.batch_alter_table("images") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
