"""Remembered excludes: the ``--exclude`` patterns of each collection, applied by every later
index run of it (`index` without folders, `reindex`) until replaced or dropped; libraries
made before have none (nothing changes for them). A downgrade keeps the patterns in
``library_meta`` and the upgrade puts them back (they were lost: the next index run took the
excluded files in without a word).

Revision ID: 0008e
Revises: 0007c
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

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
    bind = op.get_bind()
    kept = bind.execute(
        sa.text("SELECT value FROM library_meta WHERE key = :key"), {"key": KEPT}
    ).scalar()
    if kept:  # a downgrade's: back where their collection still is
        collections = {row[0] for row in bind.execute(sa.text("SELECT id FROM collections"))}
        rows = [row for row in json.loads(kept) if row["collection_id"] in collections]
        if rows:
            op.bulk_insert(_EXCLUDES, rows)
        bind.execute(sa.text("DELETE FROM library_meta WHERE key = :key"), {"key": KEPT})


def downgrade() -> None:
    bind = op.get_bind()
    rows = [
        {"collection_id": cid, "position": position, "pattern": pattern}
        for cid, position, pattern in bind.execute(
            sa.text("SELECT collection_id, position, pattern FROM collection_excludes")
        )
    ]
    if rows:  # kept for the upgrade back (module doc)
        bind.execute(sa.text("DELETE FROM library_meta WHERE key = :key"), {"key": KEPT})
        bind.execute(
            sa.text("INSERT INTO library_meta (key, value) VALUES (:key, :value)"),
            {"key": KEPT, "value": json.dumps(rows)},
        )
    op.drop_table("collection_excludes")


KEPT = "excludes_kept_by_downgrade"  # library_meta: the patterns a downgrade past here kept
_EXCLUDES = sa.table(
    "collection_excludes",
    sa.column("collection_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("pattern", sa.Text()),
)
