"""Prometheus metrics: one home for every series the service and the workers export.

The counters and histograms are made once per process, at import, in prometheus_client's
default registry; the API, the workers and the sweeper record into them where the work
happens. The gauges about the records (reminders by status, the backlog of due work, the
RQ queue) are read from the database and Redis when scraped, by ``RecordGauges``, and
only the API serves them, so several workers do not report the same backlog twice.

No label carries PHI or an identifier: routes are templates (``/v1/reminders/{reminder_id}``),
and the other labels take values from small fixed sets (statuses, outcomes, engines,
language codes, job kinds).

``tellwell worker`` runs prometheus_client's multiprocess mode in a directory of its own,
so its metrics port serves the worker and its sweeper process together
(``serve_worker_metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from service.clock import Clock
from service.db import Database
from service.models import Reminder, Status

log = logging.getLogger(__name__)

# The ``*_created`` twin of every counter is noise for our dashboards and doubles the scrape.
disable_created_metrics()

HTTP_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Request latency buckets, in seconds: an API answer takes milliseconds, audio longer."""
RENDER_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Render time buckets, in seconds: a cached message takes milliseconds, a fresh one seconds."""
DUE_TO_DISPATCH_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""Lateness buckets, in seconds: the goal is 5 s; minutes mean dispatch waits behind work."""
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route answered (a 404, or a body refused before routing)."""

HTTP_REQUESTS = Counter(
    "tellwell_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "tellwell_http_request_duration_seconds",
    "Time to answer an HTTP request, body included, by method and route template.",
    ["method", "route"],
    buckets=HTTP_SECONDS_BUCKETS,
)
RATE_LIMITED = Counter(
    "tellwell_rate_limited_requests",
    "Requests refused with 429 because their API key was over its rate limit.",
)
RENDER_SECONDS = Histogram(
    "tellwell_render_seconds",
    "Time to render a reminder (template, speech, encoding; cache hits included).",
    ["engine", "language"],
    buckets=RENDER_SECONDS_BUCKETS,
)
DUE_TO_DISPATCH_SECONDS = Histogram(
    "tellwell_due_to_dispatch_seconds",
    "From a ready reminder's send time to a worker claiming its dispatch (a reminder held"
    " for the calling window counts from the window's opening; call retries are not counted).",
    buckets=DUE_TO_DISPATCH_BUCKETS,
)
DELIVERY_OUTCOMES = Counter(
    "tellwell_delivery_outcomes",
    "Delivery attempts (calls, app messages, outbox records) by channel and the outcome"
    " recorded; a call answered and then confirmed counts under both.",
    ["channel", "outcome"],
)
WEBHOOK_FAILURES = Counter(
    "tellwell_webhook_failures",
    "Webhooks that failed: webhook=status counts each failed try of a status webhook,"
    " webhook=app each dispatch whose app-backend POSTs all failed.",
    ["webhook"],
)
SWEEPER_ENQUEUED = Counter(
    "tellwell_sweeper_enqueued",
    "Jobs the sweeper queued: reason=due for work whose job was never queued or was lost,"
    " reason=lease_lapsed for work a worker took and did not finish.",
    ["job", "reason"],
)
SWEEPER_EXPIRED = Counter(
    "tellwell_sweeper_expired",
    "Reminders the sweeper expired because their appointment began before they were sent"
    " (also in tellwell_reminders_expired_total, by=sweeper).",
)
REMINDERS_EXPIRED = Counter(
    "tellwell_reminders_expired",
    "Reminders expired because their appointment began before they were sent, by what"
    " found them late: by=sweeper (waiting for a job), by=render or by=dispatch (a worker"
    " about to start on them).",
    ["by"],
)

WAITING_STAGES = {"render": Status.SCHEDULED, "dispatch": Status.READY}
"""The backlog gauges' ``stage`` label: the status a due reminder waits in for each job."""


class QueueDepth(Protocol):
    def depth(self) -> int | None:
        """Jobs waiting in the queue, or None when the queue cannot say."""
        ...


class RecordGauges:
    """Gauges read from the records at scrape time: reminders by status and the backlog.

    Each scrape costs one GROUP BY and one aggregate per stage, all on the
    ``(status, send_at)`` index, and one LLEN when the queue is RQ. A database that does not
    answer leaves these series out of that scrape rather than failing it.
    """

    def __init__(self, db: Database, queue: QueueDepth, clock: Clock) -> None:
        self.db = db
        self.queue = queue
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._from_database()
        except SQLAlchemyError as err:
            log.warning("metrics: the database did not answer (%s)", type(err).__name__)
        depth = self.queue.depth()
        if depth is not None:
            queued = GaugeMetricFamily(
                "tellwell_queue_jobs", "Jobs waiting in the RQ queue (render, dispatch, webhook)."
            )
            queued.add_metric([], depth)
            yield queued

    def _from_database(self) -> Iterable[Metric]:
        now = self.clock.now()
        by_status = GaugeMetricFamily(
            "tellwell_reminders", "Reminders in the database, by status.", labels=["status"]
        )
        due = GaugeMetricFamily(
            "tellwell_due_reminders",
            "Reminders due and waiting for a job to start: stage=render (scheduled) or"
            " stage=dispatch (ready).",
            labels=["stage"],
        )
        oldest = GaugeMetricFamily(
            "tellwell_oldest_due_reminder_age_seconds",
            "How long the longest-waiting due reminder has been due (0 when none is).",
            labels=["stage"],
        )
        with self.db.session() as session:
            counts = {
                status: count
                for status, count in session.execute(
                    select(Reminder.status, func.count()).group_by(Reminder.status)
                )
            }
            for status in Status:
                by_status.add_metric([status.value], counts.get(status.value, 0))
            for stage, status in WAITING_STAGES.items():
                waiting, since = session.execute(
                    select(func.count(), func.min(Reminder.send_at)).where(
                        Reminder.status == status, Reminder.send_at <= now
                    )
                ).one()
                due.add_metric([stage], waiting)
                oldest.add_metric([stage], _age_s(now, since))
        return [by_status, due, oldest]


def _age_s(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


class Scrape:
    """What the API's ``/metrics`` serves: the process's series and the record gauges."""

    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def api_scrape(db: Database, queue: QueueDepth, clock: Clock) -> Scrape:
    return Scrape(REGISTRY, RecordGauges(db, queue, clock))


def serve_worker_metrics(port: int, multiprocess_dir: Path) -> None:
    """Serve, on ``port``, what every process writing to ``multiprocess_dir`` recorded.

    The worker and its sweeper process both write there (prometheus_client's multiprocess
    mode, switched on by ``PROMETHEUS_MULTIPROC_DIR`` before prometheus_client is
    imported); the HTTP server is a daemon thread of the worker.
    """
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiprocess_dir))
    start_http_server(port, registry=registry)
