"""The sweeper: the database says what is due; the sweeper makes sure a job is queued.

Redis only carries work in flight. If it loses a job (restart, flush, a worker killed
mid-job), the reminder still sits in the database with a stale ``queued_at`` or a lapsed
lease, and the next sweep enqueues it again. Each enqueue is claimed with an UPDATE ...
RETURNING on ``queued_at``, so a reminder is looked at once per ``requeue_after_s`` at most
however many sweepers run (less often the longer it waits: ``waiting_to_look_at``), and
the queue itself adds a job only if that reminder's job for that step is not still
waiting or running (``workers.queue``): a backlog larger than the workers clear in a
minute is left as it is, not queued again on every pass. A lapsed lease
replaces even a job Redis believes started, since the database says its worker is gone (a
duplicate would be harmless anyway: the job claims the reminder itself). Pending
status webhooks are claimed and queued the same way (``workers.status_webhooks``). Once a
UTC day, one sweeper among all of them also purges old audio (``workers.retention``).

The API process sweeps in a thread; ``tellwell worker`` sweeps in a process of its own
(``SweeperProcess``), so a long job never delays recovery and no fork (RQ's forking
worker, a voice engine's child) can inherit a lock a sweeper thread holds.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import DATABASE_UNREACHABLE
from service.logs import configure_logging
from service.metrics import REMINDERS_EXPIRED, SWEEPER_ENQUEUED, SWEEPER_EXPIRED
from service.models import Reminder, Status, advance
from workers.jobs import build_pipeline
from workers.outages import Outage
from workers.pipeline import Pipeline
from workers.queue import (
    DISPATCH_JOB,
    RENDER_AHEAD_JOB,
    RENDER_JOB,
    STEPS,
    WEBHOOK_JOB,
    QueueUnavailable,
)
from workers.retention import PurgeReport, purge_audio_daily
from workers.status_webhooks import queue_due_webhooks

log = logging.getLogger(__name__)

SWEEPER_STOP_TIMEOUT_S = 30.0
"""How long a stopping worker waits for its sweeper process to finish the sweep under way."""
DUE = "due"
AHEAD = "ahead"
LEASE_LAPSED = "lease_lapsed"
"""Why the sweeper queued a job (the ``reason`` label): due and not queued, due within the
render-ahead window, or abandoned."""
SOONEST_WAKE_S = 0.2
"""The shortest wait between sweeps when a rendered reminder falls due before the next."""


WORK_ORDER = (
    (RENDER_JOB, DUE),
    (RENDER_AHEAD_JOB, AHEAD),
    (RENDER_JOB, LEASE_LAPSED),
    (DISPATCH_JOB, DUE),
    (DISPATCH_JOB, LEASE_LAPSED),
)
"""The job a claimed reminder gets and why, in the order they are queued."""


def work_for(status: Status, due: bool) -> tuple[str, str]:
    """The job and reason for a reminder the sweep claimed in ``status``: a scheduled
    one is rendered (ahead if not yet due), a ready one dispatched, and one whose worker's
    lease lapsed gets its step's job again."""
    if status == Status.SCHEDULED:
        return (RENDER_JOB, DUE) if due else (RENDER_AHEAD_JOB, AHEAD)
    if status == Status.RENDERING:
        return RENDER_JOB, LEASE_LAPSED
    if status == Status.READY:
        return DISPATCH_JOB, DUE
    if status == Status.DISPATCHING:
        return DISPATCH_JOB, LEASE_LAPSED
    raise ValueError(f"the sweep claims no reminder in {status}")


@dataclass
class SweepReport:
    enqueued: dict[str, list[str]] = field(default_factory=dict)
    """The ids each job was queued for on this sweep (not those whose job was still live)."""
    expired: list[str] = field(default_factory=list)
    purged: PurgeReport | None = None
    """Set on the one sweep that ran the day's audio purge."""
    next_due: datetime | None = None
    """When the next rendered reminder falls due, if one waits: the next sweep may be sooner."""
    looked_at: int = 0
    """Reminders this sweep claimed to queue, queued or not (most of a backlog's still are)."""


def waiting_to_look_at(
    now: datetime, requeue_after_s: float, backoff_max_s: float
) -> ColumnElement[bool]:
    """The waiting reminders (scheduled, or rendered and due) whose job the sweep looks
    at now: one never queued; one queued before it fell due (a render queued ahead moves
    to the due queue); any other once ``requeue_after_s`` has passed since it was last
    queued or looked at, or, once it has been due for twice that, about as long again as
    it has been due (its job waits behind the same backlog as before), up to
    ``backoff_max_s``.

    Looking is the sweep's guard against a job Redis lost, and each look costs an UPDATE
    of the row and a scan of the job's queue; a backlog of thousands looked at every
    ``requeue_after_s`` was most of the sweepers' and Redis's work (issue 13: 58,544 row
    updates for 2,200 reminders finished in a 10,000 run). The same rule in SQL: one
    branch per step of the backoff, bounded by ``send_at``, so it runs on every database.
    """
    branches = [
        Reminder.queued_at.is_(None),
        and_(Reminder.send_at <= now, Reminder.queued_at < Reminder.send_at),
    ]
    wait_s, due_for_at_most_s = requeue_after_s, 2 * requeue_after_s
    while wait_s < backoff_max_s and wait_s > 0:
        # Due for less than twice this wait (or not yet due): looked at after this wait.
        branches.append(
            and_(
                Reminder.send_at > now - timedelta(seconds=due_for_at_most_s),
                Reminder.queued_at < now - timedelta(seconds=wait_s),
            )
        )
        wait_s, due_for_at_most_s = min(2 * wait_s, backoff_max_s), 2 * due_for_at_most_s
    branches.append(Reminder.queued_at < now - timedelta(seconds=wait_s))
    return or_(*branches)


def sweep(pipeline: Pipeline, now: datetime | None = None) -> SweepReport:
    """Enqueue what is due or stuck, expire the late, purge old audio daily; report it.

    Raises ``QueueUnavailable`` before claiming anything if the queue is down: a claimed
    reminder would wait ``requeue_after_s`` before the next try.
    """
    pipeline.queue.ping()
    settings = pipeline.settings
    now = now or pipeline.clock.now()
    requeue_before = now - timedelta(seconds=settings.requeue_after_s)
    not_recently_queued = or_(Reminder.queued_at.is_(None), Reminder.queued_at < requeue_before)
    lease_lapsed = or_(Reminder.lease_until.is_(None), Reminder.lease_until < now)
    due = Reminder.send_at <= now
    soon = Reminder.send_at <= now + timedelta(seconds=settings.render_ahead_s)
    claimable = or_(
        and_(
            or_(
                and_(Reminder.status == Status.SCHEDULED, soon),
                and_(Reminder.status == Status.READY, due),
            ),
            waiting_to_look_at(now, settings.requeue_after_s, settings.requeue_backoff_max_s),
        ),
        and_(
            Reminder.status.in_((Status.RENDERING, Status.DISPATCHING)),
            lease_lapsed,
            not_recently_queued,
        ),
    )
    report = SweepReport()
    claimed: dict[tuple[str, str], list[str]] = {work: [] for work in WORK_ORDER}
    # One transaction for the whole look, and one UPDATE for every claim (issue 13: a
    # commit per question, then a statement per kind of work, was most of the sweepers'
    # share of PostgreSQL's round trips); the claims commit before enqueueing. Writes
    # first: on SQLite a transaction that has read fails to write if another connection
    # wrote meanwhile, where one that writes first waits its turn.
    with pipeline.db.session() as session:
        rows = session.execute(
            update(Reminder)
            .where(claimable)
            .values(queued_at=now)
            .returning(Reminder.id, Reminder.status, Reminder.send_at)
            .execution_options(synchronize_session=False)
        ).all()
        report.looked_at = len(rows)
        for reminder_id, status, send_at in rows:
            claimed[work_for(Status(status), send_at <= now)].append(reminder_id)
        report.expired = _expire_late(session, now)
        report.next_due = session.scalar(
            select(func.min(Reminder.send_at)).where(
                Reminder.status == Status.READY, Reminder.send_at > now
            )
        )
    SWEEPER_EXPIRED.inc(len(report.expired))
    REMINDERS_EXPIRED.labels("sweeper").inc(len(report.expired))
    expired = set(report.expired)
    for (job, reason), claimed_ids in claimed.items():
        ids = [reminder_id for reminder_id in claimed_ids if reminder_id not in expired]
        if queued := pipeline.enqueue(job, *ids, replace_started=reason == LEASE_LAPSED):
            report.enqueued.setdefault(job, []).extend(queued)
            SWEEPER_ENQUEUED.labels(STEPS[job], reason).inc(len(queued))
    if webhook_ids := queue_due_webhooks(pipeline, now):
        report.enqueued[WEBHOOK_JOB] = webhook_ids
        SWEEPER_ENQUEUED.labels(STEPS[WEBHOOK_JOB], DUE).inc(len(webhook_ids))
    report.purged = purge_audio_daily(pipeline.db, pipeline.settings, now, pipeline.audio_store)
    return report


def next_wait_s(report: SweepReport, interval_s: float, now: datetime) -> float:
    """Until the next sweep: the interval, or less when a rendered reminder falls due first,
    so a reminder rendered ahead is dispatched within a fraction of a second of its time."""
    if report.next_due is None:
        return interval_s
    until_due = (report.next_due - now).total_seconds()
    return min(interval_s, max(until_due, SOONEST_WAKE_S))


def _expire_late(session: Session, now: datetime) -> list[str]:
    """Reminders not yet started whose appointment has begun: calling now would confuse."""
    waiting = (Status.SCHEDULED, Status.READY)
    late = session.scalars(
        select(Reminder.id).where(Reminder.status.in_(waiting), Reminder.expires_at <= now)
    ).all()
    return [
        reminder_id
        for reminder_id in late
        if advance(
            session,
            reminder_id,
            Status.EXPIRED,
            expect=frozenset(waiting),
            detail="the appointment has begun",
        )
    ]


def sweep_until(pipeline: Pipeline, stop: Callable[[float], bool]) -> None:
    """Sweep, then ``stop(interval)``, again and again until it returns True.

    Nothing stops it: an outage of Redis or the database is logged once (and its end once),
    and every pass tries again, so the sweeper resumes as soon as both answer.
    """
    queue_outage, database_outage = Outage("redis", "sweeper"), Outage("database", "sweeper")
    log.info("sweeping every %.1f s", pipeline.settings.sweep_interval_s)
    while True:
        wait_s = pipeline.settings.sweep_interval_s
        try:
            report = sweep(pipeline)
        except QueueUnavailable as err:
            queue_outage.down(err)
        except DATABASE_UNREACHABLE as err:
            database_outage.down(err)
        except Exception as err:
            # Keep sweeping: recovery must not stop for good (types and frames only).
            log.error("sweep failed: %s", type(err).__name__, exc_info=True)
        else:
            queue_outage.up()
            database_outage.up()
            wait_s = next_wait_s(report, wait_s, pipeline.clock.now())
        if stop(wait_s):
            return


class SweeperThread(threading.Thread):
    """Runs ``sweep`` every interval until stopped; for a process that never forks (the API)."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(name="tellwell-sweeper", daemon=True)
        self.pipeline = pipeline
        self.stopping = threading.Event()

    def run(self) -> None:
        sweep_until(self.pipeline, self.stopping.wait)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


class SweeperProcess:
    """Runs ``sweep`` every interval in a spawned process; for ``tellwell worker``.

    Seen here with RQ's forking worker: a sweeper thread held a lock (SQLAlchemy's mapper
    set-up mutex, a connection pool's lock) at the instant of a fork, the child inherited
    it held and waited forever. A spawned process shares no lock with the worker, keeps
    sweeping while a long job runs, and ends by itself if the worker dies.
    """

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self.stopping = context.Event()
        self.process = context.Process(
            target=_sweep_in_child,
            args=(settings, self.stopping),
            name="tellwell-sweeper",
            daemon=True,
        )

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.stopping.set()
        self.process.join(SWEEPER_STOP_TIMEOUT_S)


def _sweep_in_child(settings: Settings, stopping: threading.Event) -> None:
    # A spawned process starts with Python's default logging: set up the safe one again.
    configure_logging(settings.log_format)
    worker = multiprocessing.parent_process()

    def stop(interval_s: float) -> bool:
        return stopping.wait(interval_s) or (worker is not None and not worker.is_alive())

    try:
        sweep_until(build_pipeline(settings), stop)
    except Exception:
        # multiprocessing would print the traceback, message and all, past the handler.
        log.critical("sweeper process stopped", exc_info=True)
        raise SystemExit(1) from None
