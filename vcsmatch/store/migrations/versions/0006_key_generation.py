"""The API key generation counter, so workers can check keys from memory.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_generation",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_api_key_generation")),
    )
    counter = sa.table(
        "api_key_generation",
        sa.column("slot", sa.Integer()),
        sa.column("generation", sa.BigInteger()),
    )
    op.bulk_insert(counter, [{"slot": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("api_key_generation")
