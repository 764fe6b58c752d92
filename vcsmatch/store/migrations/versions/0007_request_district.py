"""The request log keeps the postcode's outward code (district), for the gaps insight.

``recommendation_requests.district``: "IP4" of "IP4 1AE", never the full postcode; an outward
code covers thousands of households, so it identifies no one (issue 16).

Revision ID: 0007_request_district
Revises: 0006
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_request_district"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recommendation_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommendation_requests", schema=None) as batch_op:
        batch_op.drop_column("district")
