"""The learning loop: exposure log, the serving-model pointer, model attempts, learner lease.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exposures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "propensity > 0 AND propensity <= 1", name=op.f("ck_exposures_propensity_range")
        ),
        sa.CheckConstraint("slot IN ('ranked', 'explore')", name=op.f("ck_exposures_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposures")),
    )
    op.create_index(op.f("ix_exposures_request_id"), "exposures", ["request_id"])
    op.create_index(op.f("ix_exposures_created_at"), "exposures", ["created_at"])
    op.create_table(
        "active_model",
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_active_model")),
    )
    op.bulk_insert(sa.table("active_model", sa.column("slot", sa.Integer())), [{"slot": 1}])
    op.create_table(
        "model_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("candidate_version", sa.String(length=100), nullable=True),
        sa.Column("serving_version", sa.String(length=100), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("n_ratings", sa.Integer(), nullable=False),
        sa.Column("last_rating_id", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_attempts")),
    )
    op.create_index(op.f("ix_model_attempts_created_at"), "model_attempts", ["created_at"])
    op.create_table(
        "learner_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_rating_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_learner_lease")),
    )
    lease = sa.table(
        "learner_lease",
        sa.column("name", sa.String()),
        sa.column("last_rating_id", sa.BigInteger()),
    )
    op.bulk_insert(lease, [{"name": "learner", "last_rating_id": 0}])


def downgrade() -> None:
    op.drop_table("learner_lease")
    op.drop_index(op.f("ix_model_attempts_created_at"), table_name="model_attempts")
    op.drop_table("model_attempts")
    op.drop_table("active_model")
    op.drop_index(op.f("ix_exposures_created_at"), table_name="exposures")
    op.drop_index(op.f("ix_exposures_request_id"), table_name="exposures")
    op.drop_table("exposures")
