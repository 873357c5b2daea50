"""No patient data in any log line or anywhere in Redis, whatever fails on the way.

A patient with a name and a number no other test uses is sent through real processes
(``tellwell serve`` and ``tellwell worker --burst``, each logging JSON lines to stderr),
the Twilio simulator and a scheduler's webhook receiver, while every path fails once:
the database refuses a write in the middle of a request (an API 500) and the write of a
rendered transcript (a job error), Twilio answers 500, the receiver of the status webhook
for a cancelled reminder answers 500. Every
log line and every key and value in Redis is then searched for the name, the number and
the transcript. Each failure is also checked to have happened and been logged, so a
quiet run cannot pass for a clean one.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from devtools.ports import free_port
from devtools.twilio_sim import TwilioSimulator
from service.config import Settings
from service.db import Database
from service.models import Reminder
from tests.support.api import Keys, reminder_body
from tests.support.phone import phone_settings
from tests.support.redis_contents import redis_contents
from tests.support.serving import tellwell_serve
from tests.support.webhook_receiver import SECRET, Receiver
from tests.support.workers import run_burst_worker, settings_env
from workers.sweeper import SweeperProcess


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], redis_url: str, sim: TwilioSimulator
) -> Settings:
    return phone_settings(
        make_settings,
        redis_url,
        sim,
        log_format="json",
        client_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_timeout_s=2.0,
    )


@contextmanager
def database_refusing(database_url: str, event: str, when: str = "TRUE") -> Iterator[None]:
    """PostgreSQL refuses ``event`` (INSERT, UPDATE) on reminders ``when``, as a damaged table
    would: an unexpected error (a full disk or a lost connection would be an outage, 503)."""
    db = Database(database_url)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'could not read block' USING ERRCODE = 'data_corrupted'; END $$"
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER refuse_write BEFORE {event} ON reminders FOR EACH ROW WHEN ({when})"
            " EXECUTE FUNCTION refuse_write()"
        )
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse_write ON reminders")
        db.dispose()


def log_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line a process wrote to stderr, each of which must be a JSON log line."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def exception_types(lines: list[dict[str, Any]], logger: str) -> set[str]:
    return {
        link["type"]
        for line in lines
        if line["logger"] == logger
        for link in line.get("exception", [])
    }


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_no_patient_data_reaches_a_log_or_redis_when_every_path_fails(
    settings: Settings,
    keys: Keys,
    sim: TwilioSimulator,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    tag = "".join(random.choices(string.ascii_lowercase, k=6))
    given, family = f"Zyxwvut{tag}", f"Qarnoff{tag}"
    phone = f"+1312555{random.randint(2000, 9999)}"
    body = reminder_body(callback_url=receiver.url)
    body["patient"] |= {"name": f"{given} {family}", "phone": phone}
    body["appointment"]["provider"] = f"Dr. {family}"
    env = settings_env(settings)
    serve_log, port = tmp_path / "serve.log", int(settings.public_base_url.rsplit(":", 1)[1])
    sim.fail_next = 1
    receiver.fail_next = 1

    with tellwell_serve(env, port, serve_log) as api:

        def post() -> httpx.Response:
            return httpx.post(
                f"{api.url}/v1/reminders", json=body, headers=keys.header(keys.scheduler)
            )

        called, unrendered, cancelled = (post().json()["id"] for _ in range(3))
        # A cancellation is the status webhook due at once, for the worker to send.
        cancelling = httpx.delete(
            f"{api.url}/v1/reminders/{cancelled}", headers=keys.header(keys.scheduler)
        )
        assert cancelling.status_code == 200, cancelling.text
        its_transcript = f"NEW.id = '{unrendered}' AND NEW.message_text IS NOT NULL"
        with database_refusing(settings.sqlalchemy_url, "UPDATE", its_transcript):
            worker = run_burst_worker(settings, env)
        with database_refusing(settings.sqlalchemy_url, "INSERT"):
            refused = post()
        sim.wait_idle()  # the call ran its course, its callbacks answered by the API

    db = Database(settings.sqlalchemy_url)
    with db.session() as session:
        transcript = session.get_one(Reminder, called).message_text
        assert session.get_one(Reminder, unrendered).message_text is None
    db.dispose()
    assert transcript and given in transcript

    # Every path failed once, and the failures were logged.
    assert refused.status_code == 500
    assert sim.failed_creates == 1 and len(sim.calls_to(phone)) == 1
    assert 500 in [request.answered for request in receiver.requests]
    api_lines, worker_lines = log_lines(serve_log.read_text()), log_lines(worker.stderr)
    assert "sqlalchemy.exc.InternalError" in exception_types(api_lines, "uvicorn.error")
    assert "sqlalchemy.exc.InternalError" in exception_types(worker_lines, "workers.jobs")
    connection = redis.Redis.from_url(settings.redis_url)
    failed = FailedJobRegistry(settings.queue_name, connection, serializer=JSONSerializer)
    (failed_job,) = failed.get_job_ids()
    stored = b"\n".join(redis_contents(connection))
    assert b"JobFailed: InternalError" in stored  # the failed job, as RQ keeps it

    national = phone.removeprefix("+1")
    patient_data = (given, family, phone, national, f"555-{phone[-4:]}")
    # The sentences that are this patient's alone (template phrases are in every message).
    sentences = [part for part in re.split(r"(?<=[.!?])\s+", transcript) if tag in part]
    assert len(sentences) >= 2  # the greeting and the appointment with the doctor
    lines = serve_log.read_text().splitlines() + worker.stderr.splitlines()
    for phi in (*patient_data, *sentences):
        assert [line for line in lines if phi in line] == [], phi
        assert phi.encode() not in stored, phi
    failed.remove(failed_job, delete_job=True)  # RQ would keep it a week


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_spawned_sweeper_process_logs_through_the_same_safe_handler(
    make_settings: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    """``tellwell worker`` sweeps in a spawned process, which starts with Python's default
        logging; it must set up the same one. Its database is down here, so its first sweep
        fails with an error whose message names the server it could not reach: the outage is
    logged once, by the error's type."""
    unreachable = f"postgresql+psycopg://tellwell@127.0.0.1:{free_port()}/tellwell"
    sweeper = SweeperProcess(make_settings(database_url=unreachable, log_format="json"))
    sweeper.start()
    sweeper.stop()  # the child sweeps once before it looks at the stop signal

    lines = log_lines(capfd.readouterr().err)
    outage = [line for line in lines if "database unreachable" in line["message"]]
    assert len(outage) == 1, lines  # once per outage, not once per pass
    assert outage[0]["logger"] == "workers.outages" and "OperationalError" in outage[0]["message"]
    assert "127.0.0.1" not in json.dumps(lines)
