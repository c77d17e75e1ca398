"""Video frames: a video is one row of `images` (with its duration) and its sampled frames,
each with its timestamp and vector, are rows of `video_frames`.

Revision ID: 0004v
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004v"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("duration_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "video_frames",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("shot", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_video_frames_image_id", "video_frames", ["image_id"])


def downgrade() -> None:
    op.drop_index("ix_video_frames_image_id", table_name="video_frames")
    op.drop_table("video_frames")
    with op.batch_alter_table("images") as batch:
        batch.drop_column("duration_ms")
