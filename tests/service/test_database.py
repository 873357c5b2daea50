"""The records on both backends: migrations, the status machine, the append-only audit log."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.db import Base, Database, alembic_config, utcnow
from service.models import Reminder, Role, Status, advance, audit
from service.security import issue_key


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == []


def test_migrations_go_down_and_up_again(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/roundtrip.sqlite3"
    db = Database(url)
    db.migrate()
    command.downgrade(alembic_config(url), "base")
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM reminders")).scalar() == 0
    db.dispose()


def test_audit_log_refuses_update_and_delete(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as session:
        key = issue_key(session, Role.STAFF)
        audit(session, key.id, "preview.render", "audio", "abc")
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(text(statement))
    db.dispose()


def test_status_moves_forward_only_and_each_move_is_an_event(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as session:
        owner = issue_key(session, Role.SCHEDULER)
        reminder = Reminder(
            owner_key_id=owner.id,
            kind="result_ready",
            channel="phone",
            language="en",
            send_at=utcnow(),
            facts={},
        )
        session.add(reminder)
    with db.session() as session:
        assert advance(session, reminder.id, Status.RENDERING)
        assert not advance(session, reminder.id, Status.SCHEDULED)  # never backwards
        assert not advance(session, reminder.id, Status.DELIVERED)  # never skipping
        assert advance(session, reminder.id, Status.CANCELLED)
        assert not advance(session, reminder.id, Status.READY)  # final stays final
    with db.session() as session:
        stored = session.get_one(Reminder, reminder.id)
        assert stored.status == Status.CANCELLED
        assert [e.status for e in stored.events] == ["rendering", "cancelled"]
    db.dispose()
