"""follow_up: a clinic's follow-up question; a reminder's question, answer and staff flag

Revision ID: 0017_follow_up
Revises: 0016_speech
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0017_follow_up"
down_revision: str | None = "0016_speech"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "clinics",
        sa.Column(
            "follow_up_question", sa.String(20), nullable=False, server_default="visit_rating"
        ),
    )
    op.add_column("reminders", sa.Column("follow_up_question", sa.String(20), nullable=True))
    op.add_column("reminders", sa.Column("follow_up_answer", sa.String(10), nullable=True))
    answered_at = service.db.UTCDateTime(timezone=True)
    op.add_column("reminders", sa.Column("follow_up_answered_at", answered_at, nullable=True))
    op.add_column("reminders", sa.Column("follow_up_needs_staff", sa.Boolean(), nullable=True))
    # The weekly counts read one clinic's follow-ups by send time.
    op.create_index(
        "ix_reminders_follow_up",
        "reminders",
        ["clinic_id", "follow_up_question", "send_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_reminders_follow_up", table_name="reminders")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("follow_up_needs_staff")
        batch.drop_column("follow_up_answered_at")
        batch.drop_column("follow_up_answer")
        batch.drop_column("follow_up_question")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("follow_up_question")
