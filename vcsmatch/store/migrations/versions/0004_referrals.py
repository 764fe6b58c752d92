"""Referrals and their outcomes, and the manager role.

``referrals``: one per suggestion referred (a request id and one of its service ids), its
status and decline reason; no personal data (the person's features stay on the request).
``ratings.referral_id``: an outcome's relevance evidence is a row of the ratings log that names
the referral it came from. ``api_keys.role`` admits ``manager``.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD_ROLES = "role IN ('practitioner', 'front_door', 'analyst', 'admin')"
_NEW_ROLES = "role IN ('practitioner', 'front_door', 'analyst', 'admin', 'manager')"


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('made', 'accepted', 'declined', 'attended', 'not_attended', 'withdrawn')",
            name=op.f("ck_referrals_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("request_id", "service_id", name=op.f("uq_referrals_request_id")),
    )
    op.create_index(op.f("ix_referrals_api_key_id"), "referrals", ["api_key_id"])
    op.create_index(op.f("ix_referrals_created_at"), "referrals", ["created_at"])
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("referral_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("ck_api_keys_role"), type_="check")
        batch.create_check_constraint(op.f("ck_api_keys_role"), sa.text(_NEW_ROLES))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("ck_api_keys_role"), type_="check")
        batch.create_check_constraint(op.f("ck_api_keys_role"), sa.text(_OLD_ROLES))
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("referral_id")
    op.drop_index(op.f("ix_referrals_created_at"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_api_key_id"), table_name="referrals")
    op.drop_table("referrals")
