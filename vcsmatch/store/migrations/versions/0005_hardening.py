"""Hardening (issue 17): idempotency keys are unique per API key, not across the table.

``ratings.key_scope`` is the API key's id (0 for a local import without one); the unique
constraint moves from ``idempotency_key`` to ``(key_scope, idempotency_key)``.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_scope", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute("UPDATE ratings SET key_scope = COALESCE(api_key_id, 0)")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ratings_idempotency_key", type_="unique")
        batch_op.create_unique_constraint("uq_ratings_key_scope", ["key_scope", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ratings_key_scope", type_="unique")
        batch_op.create_unique_constraint("uq_ratings_idempotency_key", ["idempotency_key"])
        batch_op.drop_column("key_scope")
