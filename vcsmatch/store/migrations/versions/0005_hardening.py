"""Hardening (issue 17): idempotency keys per API key; server-side web sessions.

``ratings.key_scope`` is the API key's id (0 for a local import without one); the unique
constraint moves from ``idempotency_key`` to ``(key_scope, idempotency_key)``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
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

    op.create_table(
        "web_sessions",
        sa.Column("sid_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sid_sha256", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_key_id"), "web_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_key_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ratings_key_scope", type_="unique")
        batch_op.create_unique_constraint("uq_ratings_idempotency_key", ["idempotency_key"])
        batch_op.drop_column("key_scope")
