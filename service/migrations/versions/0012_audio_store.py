"""audio store: rendered audio's bytes in the database (TELLWELL_AUDIO_STORE=database)

Revision ID: 0012_audio_store
Revises: 0011_fhir
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0012_audio_store"
down_revision: str | None = "0011_fhir"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audio_blobs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("used_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "format"),
    )
    op.create_index("ix_audio_blobs_used_at", "audio_blobs", ["used_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Audio is compressed already: stored out of line uncompressed, a Range reads only
        # the chunks it covers instead of decompressing the whole message first.
        op.execute("ALTER TABLE audio_blobs ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_index("ix_audio_blobs_used_at", table_name="audio_blobs")
    op.drop_table("audio_blobs")
