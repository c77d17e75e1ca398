"""Initial schema: collections, images, embeddings, labels, index runs, library meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root", sa.String(4096), nullable=False, unique=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("last_indexed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer(),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rel_path", sa.String(4096), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("pixel_sha256", sa.String(64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("exif_datetime", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("collection_id", "rel_path", name="uq_images_collection_path"),
    )
    op.create_index("ix_images_collection_id", "images", ["collection_id"])
    op.create_index("ix_images_sha256", "images", ["sha256"])
    op.create_index("ix_images_pixel_sha256", "images", ["pixel_sha256"])
    op.create_index("ix_images_status", "images", ["status"])
    op.create_table(
        "embeddings",
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "image_labels",
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rank", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
    )
    op.create_index("ix_image_labels_label", "image_labels", ["label"])
    op.create_table(
        "index_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("images_per_second", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("index_runs")
    op.drop_index("ix_image_labels_label", table_name="image_labels")
    op.drop_table("image_labels")
    op.drop_table("embeddings")
    op.drop_index("ix_images_status", table_name="images")
    op.drop_index("ix_images_pixel_sha256", table_name="images")
    op.drop_index("ix_images_sha256", table_name="images")
    op.drop_index("ix_images_collection_id", table_name="images")
    op.drop_table("images")
    op.drop_table("collections")
    op.drop_table("library_meta")
