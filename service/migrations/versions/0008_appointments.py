"""appointments: visits the service plans reminders for

Revision ID: 0008_appointments
Revises: 0007_clinics
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0008_appointments"
down_revision: str | None = "0007_clinics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("owner_key_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=120), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("patient", sa.JSON(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("source_updated_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["owner_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "external_id", name="uq_appointments_clinic_external"),
    )
    op.create_index("ix_appointments_start_id", "appointments", ["start", "id"])
    op.create_index(
        op.f("ix_appointments_owner_key_id"), "appointments", ["owner_key_id"], unique=False
    )
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("appointment_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("clinic_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("plan_slot", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_reminders_appointment_id", "appointments", ["appointment_id"], ["id"]
        )
        batch.create_index(op.f("ix_reminders_appointment_id"), ["appointment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_index(op.f("ix_reminders_appointment_id"))
        batch.drop_constraint("fk_reminders_appointment_id", type_="foreignkey")
        batch.drop_column("plan_slot")
        batch.drop_column("clinic_id")
        batch.drop_column("appointment_id")
    op.drop_index(op.f("ix_appointments_owner_key_id"), table_name="appointments")
    op.drop_index("ix_appointments_start_id", table_name="appointments")
    op.drop_table("appointments")
