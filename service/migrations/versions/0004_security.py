"""security: server-side console sessions, who set an opt-out, a reason in the audit log

Revision ID: 0004_security
Revises: 0003_webhooks
Create Date: 2026-12-02

Opt-out rows written before this revision hold an unsalted SHA-256 of the number. They
cannot be rehashed here (the numbers are not kept); ``NeverCallList`` still finds them and
rewrites each to the keyed hash the first time its number is looked up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0004_security"
down_revision: str | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_console_sessions_key_id"), "console_sessions", ["key_id"], unique=False
    )
    # Plain ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and the audit
    # log's rebuilt copy would lose the triggers that keep it append-only.
    op.add_column("audit_log", sa.Column("detail", sa.JSON(), nullable=True))
    op.add_column("opt_outs", sa.Column("set_by_key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.drop_column("set_by_key_id")
    op.drop_column("audit_log", "detail")
    op.drop_index(op.f("ix_console_sessions_key_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
