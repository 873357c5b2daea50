"""worklist: what staff did about an item, and how a patient's call to the clinic ended

Revision ID: 0015_worklist
Revises: 0014_escalation
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0015_worklist"
down_revision: str | None = "0014_escalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("clinic_dial", sa.String(length=20), nullable=True))
    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor_key_id", sa.String(length=32), nullable=False),
        sa.Column("at", service.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_actions_subject", "staff_actions", ["subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_actions_subject", table_name="staff_actions")
    op.drop_table("staff_actions")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("clinic_dial")
