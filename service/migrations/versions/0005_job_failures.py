"""Count the unexpected failures of a reminder's jobs, so a broken one ends ``failed``.

Revision ID: 0005_job_failures
Revises: 0004_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_job_failures"
down_revision: str | None = "0004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "reminders",
        sa.Column("job_failures", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("job_failures")
