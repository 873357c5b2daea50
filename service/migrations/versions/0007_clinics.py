"""clinics: the clinic record, scheduler keys limited to clinics

Revision ID: 0007_clinics
Revises: 0006_erasure
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0007_clinics"
down_revision: str | None = "0006_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("spoken_name", sa.String(length=200), nullable=True),
        sa.Column("callback_phone", sa.String(length=20), nullable=False),
        sa.Column("caller_id", sa.String(length=20), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("calling_hours_start", sa.String(length=5), nullable=False),
        sa.Column("calling_hours_end", sa.String(length=5), nullable=False),
        sa.Column("default_language", sa.String(length=16), nullable=False),
        sa.Column("default_speech_rate", sa.String(length=10), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("require_reviewed_wording", sa.Boolean(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column("api_keys", sa.Column("clinic_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "clinic_ids")
    op.drop_table("clinics")
