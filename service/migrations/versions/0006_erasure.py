"""patient erasure and retention: audit paging index, daily runs

Revision ID: 0006_erasure
Revises: 0005_job_failures
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0006_erasure"
down_revision: str | None = "0005_job_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs, never batch mode: SQLite's batch mode rebuilds the table and would
    # drop the triggers that keep the audit log append-only.
    op.create_index("ix_audit_log_at_id", "audit_log", ["at", "id"], unique=False)
    op.create_table(
        "daily_runs",
        sa.Column("task", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task", "day"),
    )


def downgrade() -> None:
    op.drop_table("daily_runs")
    op.drop_index("ix_audit_log_at_id", table_name="audit_log")
