"""intake: HL7 messages taken, appointments needing attention, clinics' HL7 notes setting

Revision ID: 0010_intake
Revises: 0009_clinic_words
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0010_intake"
down_revision: str | None = "0009_clinic_words"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hl7_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("facility", sa.String(length=200), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("appointment_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facility", "control_id", name="uq_hl7_messages_facility_control"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_attention", sa.String(length=200), nullable=True))
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "hl7_notes_as_instructions",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("hl7_notes_as_instructions")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("needs_attention")
    op.drop_table("hl7_messages")
