"""Grey-level layout: each image's 16 x 16 grey levels (models.image_layout), which nominate
candidates for the key-point check of a query in doubt; NULL = not read yet (rows indexed
before this revision: the next `imgsearch index` reads them, with the quality measures).

Revision ID: 0006l
Revises: 0005q
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006l"
down_revision = "0005q"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("layout", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("layout")
