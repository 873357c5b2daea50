"""Group commit over real TCP (the ``hl7`` library's MLLP client): messages that arrive on
different connections while a batch commits are stored together in the next one, and
each is answered as it would be alone.

PostgreSQL, whose table lock makes the batches deterministic: a test transaction holding
``hl7_messages`` in EXCLUSIVE mode lets a batch read but not record its messages, so the
batch waits, open, while the messages sent next pile up behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import hl7
import psycopg
import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.db import Database
from service.intake.hl7.group import GroupCommit
from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MllpListener
from service.intake.hl7.store import StoringSink
from service.models import Appointment, Hl7Message, Reminder
from tests.support.clinics import store_clinic
from tests.support.hl7 import ack_code, exchange, hl7_time, siu
from tests.support.waiting import wait_for
from workers.jobs import build_pipeline

HOST = "127.0.0.1"
LOCK = "LOCK TABLE hl7_messages IN EXCLUSIVE MODE"
"""Lets others read the table, not write it: a batch reads, then waits to record."""
WAITING_ON_LOCKS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def later(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def new_visit(control_id: str, appointment_id: str, days: float = 5) -> str:
    return siu(control_id, start=hl7_time(later(days)), appointment_id=appointment_id)


class Locker:
    """A PostgreSQL session of the test's own, taking and giving back the table lock."""

    def __init__(self, database_url: str) -> None:
        self.connection = psycopg.connect(database_url.replace("+psycopg", ""))

    def lock(self) -> None:
        self.connection.execute(LOCK)

    def waiting_on_locks(self) -> int:
        with psycopg.connect(self.connection.info.dsn, autocommit=True) as other:
            row = other.execute(WAITING_ON_LOCKS).fetchone()
        return int(row[0]) if row else 0

    def record_as_another_listener(self, control_id: str) -> None:
        """What a racing listener process writes when it stores this control id first."""
        self.connection.execute(
            "INSERT INTO hl7_messages (facility, control_id, ack_code, outcome, received_at)"
            " VALUES ('RIVERSIDE', %s, 'AA', 'stored', now())",
            (control_id,),
        )

    def release(self) -> None:
        self.connection.commit()


@pytest.fixture
def locker(database_url: str) -> Iterator[Locker]:
    locker = Locker(database_url)
    yield locker
    locker.connection.close()


Scenario = Callable[[GroupCommit, int], Awaitable[None]]


def run_with_listener(settings: Settings, scenario: Scenario) -> None:
    """The listener ``tellwell mllp`` runs, with one batch writer (the other would take
    the messages that are meant to pile up)."""
    pipeline = build_pipeline(settings)
    group = GroupCommit(StoringSink.for_pipeline(pipeline), writers=1)

    async def main() -> None:
        listener = MllpListener(MessageHandler(group, pipeline.clock).handle)
        _, port = await listener.start(HOST, 0)
        try:
            await scenario(group, port)
        finally:
            await listener.close()

    try:
        asyncio.run(main())
    finally:
        pipeline.queue.close()
        pipeline.db.dispose()


def sent(port: int, message: str) -> asyncio.Task[list[hl7.Message]]:
    """The message on a connection of its own, its ACK awaited in the background."""
    return asyncio.create_task(exchange(HOST, port, [message]))


async def until(predicate: Callable[[], object]) -> None:
    await asyncio.to_thread(wait_for, predicate)


def stored(database_url: str) -> tuple[dict[str, datetime], dict[str, int], list[str]]:
    """Each appointment's start and its number of reminders, and the recorded control ids."""
    db = Database(database_url)
    with db.session() as session:
        visits = session.execute(select(Appointment.external_id, Appointment.start))
        starts = {external_id: start for external_id, start in visits}
        counted = session.execute(
            select(Appointment.external_id, func.count(Reminder.id))
            .join(Reminder, Reminder.appointment_id == Appointment.id)
            .group_by(Appointment.external_id)
        )
        reminders = {external_id: count for external_id, count in counted}
        control_ids = sorted(session.scalars(select(Hl7Message.control_id)))
    db.dispose()
    return starts, reminders, control_ids


def test_a_batch_keeps_duplicates_bad_messages_and_updates_apart(
    make_settings: Callable[..., Settings], database_url: str, locker: Locker
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    moved = later(9)
    batch = {
        "new": new_visit("B", "FL-B"),
        "the same message again": new_visit("B", "FL-B"),
        "too far ahead": new_visit("C", "FL-C", days=3 * 365),
        "another new": new_visit("D", "FL-D"),
        "a newer reschedule of FL-B": siu(
            "E", "S13", start=hl7_time(moved), appointment_id="FL-B", sent_at="20301101100000"
        ),
    }
    answers: dict[str, list[hl7.Message]] = {}

    async def scenario(group: GroupCommit, port: int) -> None:
        locker.lock()
        first = sent(port, new_visit("A", "FL-A"))
        await until(lambda: locker.waiting_on_locks() == 1)  # its batch is open, waiting
        pending = {name: sent(port, message) for name, message in batch.items()}
        await until(lambda: group.waiting == len(batch))  # all five in the next batch
        locker.release()
        answers["first"] = await first
        for name, task in pending.items():
            answers[name] = await task

    run_with_listener(make_settings(), scenario)
    codes = {name: ack_code(ack) for name, (ack,) in answers.items()}
    assert codes == {
        "first": "AA",
        "new": "AA",
        "the same message again": "AA",
        "too far ahead": "AE",
        "another new": "AA",
        "a newer reschedule of FL-B": "AA",
    }
    (refused,) = answers["too far ahead"]
    assert str(refused.segment("ERR")(2)) == "TQ1^1^7^1"
    starts, reminders, control_ids = stored(database_url)
    assert sorted(starts) == ["FL-A", "FL-B", "FL-D"]
    assert starts["FL-B"] == moved  # the newer message won, whichever came first
    assert reminders == {"FL-A": 2, "FL-B": 2, "FL-D": 2}  # each planned once
    assert control_ids == ["A", "B", "D", "E"]  # the refused one is not kept as taken


def test_a_batch_that_fails_to_commit_is_stored_one_by_one(
    make_settings: Callable[..., Settings], database_url: str, locker: Locker
) -> None:
    """A control id recorded by another listener process between the batch's read and
    its write: the batch is rolled back whole and each message stored alone, so its
    batch-mate is stored once and the message the other process took is a duplicate."""
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    second = Locker(locker.connection.info.dsn)
    answers: dict[str, list[hl7.Message]] = {}

    async def scenario(group: GroupCommit, port: int) -> None:
        locker.lock()
        first = sent(port, new_visit("A", "FL-A"))
        await until(lambda: locker.waiting_on_locks() == 1)
        pending = {"F": sent(port, new_visit("F", "FL-F")), "G": sent(port, new_visit("G", "FL-G"))}
        await until(lambda: group.waiting == 2)
        # The lock passes to the first batch, then to the second locker, which holds it
        # while the batch of F and G reads, finds G not taken, and waits to record it.
        taking = asyncio.create_task(asyncio.to_thread(second.lock))
        await until(lambda: locker.waiting_on_locks() == 2)
        locker.release()
        answers["A"] = await first
        await taking
        await until(lambda: group.waiting == 0 and locker.waiting_on_locks() == 1)
        second.record_as_another_listener("G")
        second.release()
        for name, task in pending.items():
            answers[name] = await task

    try:
        run_with_listener(make_settings(), scenario)
    finally:
        second.connection.close()
    assert {name: ack_code(ack) for name, (ack,) in answers.items()} == {
        "A": "AA",
        "F": "AA",
        "G": "AA",
    }
    starts, reminders, control_ids = stored(database_url)
    assert sorted(starts) == ["FL-A", "FL-F"]  # G was the other process's to store
    assert reminders == {"FL-A": 2, "FL-F": 2}  # nothing left of the rolled-back try
    assert control_ids == ["A", "F", "G"]
