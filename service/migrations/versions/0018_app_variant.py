"""app variant: a call's reminder keeps the app message its app or text step rendered

Revision ID: 0018_app_variant
Revises: 0017_follow_up
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_app_variant"
down_revision: str | None = "0017_follow_up"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("app_message_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("app_audio_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("app_audio_format", sa.String(length=16), nullable=True))
        batch.create_foreign_key(
            "fk_reminders_app_audio",
            "audio_assets",
            ["app_audio_key", "app_audio_format"],
            ["key", "format"],
        )


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_constraint("fk_reminders_app_audio", type_="foreignkey")
        batch.drop_column("app_audio_format")
        batch.drop_column("app_audio_key")
        batch.drop_column("app_message_text")
