"""The log set-up on its own: what a line says about a failure, and what it never says."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from service.logs import LogFormat, make_handler

NAME = "Zyxwvut Qarnoff"
PHONE = "+13125557361"


def store_patient(name: str) -> None:
    """A real database refusing a row: SQLAlchemy's message then quotes the parameters."""
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE patients (name TEXT CHECK (length(name) < 3))"))
        connection.execute(text("INSERT INTO patients VALUES (:name)"), {"name": name})


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, dict[LogFormat, io.StringIO]]]:
    """A logger writing to one handler of each format, as ``configure_logging`` makes them."""
    logger = logging.getLogger("tests.logs")
    streams: dict[LogFormat, io.StringIO] = {"json": io.StringIO(), "text": io.StringIO()}
    handlers = [make_handler(fmt, stream) for fmt, stream in streams.items()]
    for handler in handlers:
        logger.addHandler(handler)
    logger.propagate = False
    yield logger, streams
    for handler in handlers:
        logger.removeHandler(handler)


def test_a_traceback_gives_types_and_frames_but_never_the_message(
    logged: tuple[logging.Logger, dict[LogFormat, io.StringIO]],
) -> None:
    logger, streams = logged
    with pytest.raises(IntegrityError) as raised:
        store_patient(NAME)
    assert NAME in str(raised.value)  # what a plain traceback would have printed
    try:
        store_patient(NAME)
    except IntegrityError:
        logger.exception("could not store the patient")

    line = json.loads(streams["json"].getvalue())
    assert line["level"] == "ERROR" and line["logger"] == "tests.logs"
    assert line["message"] == "could not store the patient" and line["time"]
    raised_link, cause = line["exception"]
    assert raised_link["type"] == "sqlalchemy.exc.IntegrityError"
    frames = raised_link["frames"]
    assert all(set(frame) == {"file", "line", "function"} for frame in frames)
    assert {"file": __file__, "function": "store_patient"}.items() <= frames[1].items()
    assert cause["type"] == "sqlite3.IntegrityError" and cause["via"] == "cause"

    readable = streams["text"].getvalue()
    assert "sqlalchemy.exc.IntegrityError" in readable and "in store_patient" in readable
    for output in (streams["json"].getvalue(), readable):
        assert "Qarnoff" not in output and "Zyxwvut" not in output
        assert "CHECK constraint" not in output  # no message at all, not just no name


def test_phone_numbers_e_mail_and_sql_parameters_are_masked_in_messages(
    logged: tuple[logging.Logger, dict[LogFormat, io.StringIO]],
) -> None:
    logger, streams = logged
    logger.warning("calling %s, then (312) 555-7361, To=%%2B13125557361", PHONE)
    logger.warning("mail to ana.ruiz@example.org")
    logger.warning("failed [SQL: INSERT INTO t VALUES (?)] [parameters: ('%s',)]", NAME)
    messages = [json.loads(line)["message"] for line in streams["json"].getvalue().splitlines()]
    assert messages == [
        "calling [phone], then [phone], To=[phone]",
        "mail to [email]",
        "failed [SQL: INSERT INTO t VALUES (?)] [parameters withheld]",
    ]


def test_a_configured_process_quiets_chatty_loggers_and_logs_an_uncaught_error_safely() -> None:
    program = f"""
import logging
from service.logs import configure_logging
configure_logging("json")
logging.getLogger("twilio.http_client").info("Query Params: {{'To': '{PHONE}'}}")
logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/{PHONE}")
logging.getLogger("service.test").info("started")
raise ValueError("{NAME}")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    started, uncaught = (json.loads(line) for line in done.stderr.splitlines())
    assert started["message"] == "started"
    assert uncaught["level"] == "CRITICAL" and uncaught["exception"][0]["type"] == "ValueError"
    assert NAME not in done.stderr and PHONE not in done.stderr
