"""fhir: FHIR resources as their senders stored them, and their identifiers

Revision ID: 0011_fhir
Revises: 0010_intake
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0011_fhir"
down_revision: str | None = "0010_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_resources",
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("owner_key_id", sa.String(length=32), nullable=False),
        sa.Column("appointment_id", sa.String(length=32), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("source_updated_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"]),
        sa.ForeignKeyConstraint(["owner_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("resource_type", "resource_id"),
    )
    op.create_index(op.f("ix_fhir_resources_appointment_id"), "fhir_resources", ["appointment_id"])
    op.create_index(op.f("ix_fhir_resources_owner_key_id"), "fhir_resources", ["owner_key_id"])
    op.create_index(op.f("ix_fhir_resources_patient_id"), "fhir_resources", ["patient_id"])
    op.create_table(
        "fhir_identifiers",
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_type", "resource_id"],
            ["fhir_resources.resource_type", "fhir_resources.resource_id"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "system", "value"),
    )
    op.create_index("ix_fhir_identifiers_value", "fhir_identifiers", ["resource_type", "value"])


def downgrade() -> None:
    op.drop_index("ix_fhir_identifiers_value", table_name="fhir_identifiers")
    op.drop_table("fhir_identifiers")
    op.drop_index(op.f("ix_fhir_resources_patient_id"), table_name="fhir_resources")
    op.drop_index(op.f("ix_fhir_resources_owner_key_id"), table_name="fhir_resources")
    op.drop_index(op.f("ix_fhir_resources_appointment_id"), table_name="fhir_resources")
    op.drop_table("fhir_resources")
