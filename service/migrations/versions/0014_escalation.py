"""escalation: a clinic's escalation policy, a reminder's current step, events and attempts per step

Revision ID: 0014_escalation
Revises: 0013_words
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_escalation"
down_revision: str | None = "0013_words"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("clinics", sa.Column("escalation", sa.JSON(), nullable=True))
    op.add_column(
        "reminders",
        sa.Column("escalation_step", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("reminder_events", sa.Column("step", sa.Integer(), nullable=True))
    op.add_column("attempts", sa.Column("step", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("step")
    with op.batch_alter_table("reminder_events") as batch:
        batch.drop_column("step")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("escalation_step")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("escalation")
