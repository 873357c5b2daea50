"""speech: what Twilio heard on a call, and a text's delivery status, on the attempt

Revision ID: 0016_speech
Revises: 0015_worklist
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_speech"
down_revision: str | None = "0015_worklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("speech_result", sa.String(200), nullable=True))
    op.add_column("attempts", sa.Column("speech_confidence", sa.Float(), nullable=True))
    op.add_column("attempts", sa.Column("provider_status", sa.String(20), nullable=True))
    op.add_column("attempts", sa.Column("provider_error", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        for column in ("provider_error", "provider_status", "speech_confidence", "speech_result"):
            batch.drop_column(column)
