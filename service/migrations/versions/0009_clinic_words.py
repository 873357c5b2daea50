"""clinic words: lexicon entries, wording versions and reviews per clinic

Revision ID: 0009_clinic_words
Revises: 0008_appointments
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0009_clinic_words"
down_revision: str | None = "0008_appointments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_lexicon_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("written", sa.String(length=100), nullable=False),
        sa.Column("spoken", sa.String(length=200), nullable=False),
        sa.Column("match_case", sa.Boolean(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clinic_id", "language", "written", name="uq_clinic_lexicon_written"),
    )
    op.create_table(
        "wording_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["created_by_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "clinic_id", "kind", "language", "variant", "number", name="uq_wording_version"
        ),
    )
    op.create_table(
        "wording_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("clinic_id", sa.String(length=64), nullable=True),
        sa.Column("wording_hash", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("reviewer_key_id", sa.String(length=32), nullable=False),
        sa.Column("reviewed_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["reviewer_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_wording_reviews_subject",
        "wording_reviews",
        ["language", "clinic_id", "wording_hash"],
        unique=False,
    )
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("wording_version_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_reminders_wording_version_id",
            "wording_versions",
            ["wording_version_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_constraint("fk_reminders_wording_version_id", type_="foreignkey")
        batch.drop_column("wording_version_id")
    op.drop_index("ix_wording_reviews_subject", table_name="wording_reviews")
    op.drop_table("wording_reviews")
    op.drop_table("wording_versions")
    op.drop_table("clinic_lexicon_entries")
