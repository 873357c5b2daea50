"""The ``tellwell`` command: serve, work, listen for HL7, migrate, check, make keys, render."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from pydantic import ValidationError

from service.clock import SYSTEM_CLOCK
from service.config import Settings, get_settings
from service.db import Database
from service.logs import configure_logging
from service.models import Role

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus_client's multiprocess mode keeps each process's series."""


@click.group()
def main() -> None:
    """Tellwell: voice reminders and result notices for patients."""
    try:
        settings = get_settings()
    except ValidationError as err:  # where and why only: the inputs hold secrets
        reasons = (_setting_error(error["loc"], error["msg"]) for error in err.errors())
        raise click.ClickException("; ".join(reasons)) from None
    configure_logging(settings.log_format)


def _setting_error(location: tuple[int | str, ...], message: str) -> str:
    """One settings error as an operator reads it: the variable, the place inside its
    JSON, the reason (``TELLWELL_HTTP_TTS en.body: has unknown placeholder {txt}``)."""
    reason = message.removeprefix("Value error, ")
    if not location:
        return reason  # a rule across fields says which variables itself
    variable, *inside = location
    where = f"TELLWELL_{str(variable).upper()}"
    if inside:
        where += " " + ".".join(str(part) for part in inside)
    return f"{where}: {reason}"


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    Database.from_settings(get_settings()).migrate()
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the HTTP API (and, without Redis, the in-process worker and sweeper)."""
    import threading

    import uvicorn

    from service.app import create_app
    from templates.text_language import warm_up

    # The free-text language check's models load in the background, not in the first
    # request that needs them.
    threading.Thread(target=warm_up, name="text-language-warm-up", daemon=True).start()

    # log_config=None: uvicorn's loggers keep the root handler configure_logging set up,
    # so a 500's traceback is printed without the exception's message.
    uvicorn.run(
        create_app(), host=host, port=port, log_level="info", log_config=None, access_log=False
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2575, show_default=True, type=int, help="2575: HL7's port.")
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Listener processes sharing the port (SO_REUSEPORT); about one per core.",
)
def mllp(host: str, port: int, processes: int) -> None:
    """Run the HL7 v2 MLLP listener for SIU scheduling messages.

    Each message is parsed, stored as an appointment in the database of the settings
    (its reminders planned) and acknowledged: AA, AE naming the field, or AR (docs/hl7.md).
    Reminders due at once go to the queue; with the in-process queue, the sweeper of
    ``tellwell serve`` on the same database finds them. With ``--processes N`` each
    connection is served by one of N processes, its messages answered in order.
    """
    if processes == 1:
        serve_mllp(host, port, False)
        return
    from service.intake.hl7.listener import serve_in_processes

    sys.exit(serve_in_processes(serve_mllp, host, port, processes))


def serve_mllp(host: str, port: int, reuse_port: bool) -> None:
    """One MLLP listener process until SIGTERM (also the target ``--processes`` spawns,
    hence the logging set up here: a spawned process does not pass through ``main``)."""
    import asyncio

    from service.intake.hl7.group import storing_handler
    from service.intake.hl7.listener import MllpListener, serve_until_stopped
    from workers import jobs

    settings = get_settings()
    configure_logging(settings.log_format)
    pipeline = jobs.build_pipeline(settings)
    handler = storing_handler(pipeline)
    try:
        asyncio.run(serve_until_stopped(MllpListener(handler.handle), host, port, reuse_port))
    finally:
        pipeline.queue.close()
        pipeline.db.dispose()


@main.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then stop.")
def worker(burst: bool) -> None:
    """Run an RQ worker with a sweeper; start as many as you like on one Redis.

    Jobs run in this process (RQ's SimpleWorker, no fork per job), so a voice model is
    loaded once and serves every job. A job that takes the process down loses nothing:
    the reminder's lease lapses and the sweeper enqueues it again. An outage of Redis or
    the database only pauses it (see ``workers.worker`` and ``workers.outages``).
    """
    settings = get_settings()
    if not settings.redis_url:
        raise click.UsageError("set TELLWELL_REDIS_URL: without Redis, `tellwell serve` works")
    with worker_metrics(settings.metrics_port):
        work(settings, burst)


@contextmanager
def worker_metrics(port: int) -> Iterator[None]:
    """With a port, serve the metrics of this worker and its sweeper process on it.

    Both processes write their series to a directory of this worker's own
    (prometheus_client's multiprocess mode), which the server here adds up. The mode is
    chosen when prometheus_client is imported, so the directory is named in the
    environment before anything imports it; the spawned sweeper inherits it.
    """
    if not port:
        yield
        return
    if "prometheus_client" in sys.modules:
        raise click.ClickException(
            "TELLWELL_METRICS_PORT: start the worker as a process of its own"
        )
    with tempfile.TemporaryDirectory(prefix="tellwell-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
        from service.metrics import serve_worker_metrics

        serve_worker_metrics(port, Path(directory))
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR_VARIABLE]


def work(settings: Settings, burst: bool) -> None:
    """The RQ worker, and its sweeper process unless ``burst`` (imported only now: the
    metrics mode must be chosen before anything imports prometheus_client)."""
    from workers import jobs
    from workers.sweeper import SweeperProcess, sweep
    from workers.worker import run_worker

    pipeline = jobs.build_pipeline(settings)
    jobs.install(pipeline)
    if burst:
        sweep(pipeline)
        run_worker(pipeline, burst=True)
        return
    sweeper = SweeperProcess(settings)
    sweeper.start()
    try:
        run_worker(pipeline)
    finally:
        sweeper.stop()


@main.command()
def check() -> None:
    """Exit 0 when the database and the job queue answer (a container's health check)."""
    from service.api.health import dependency_checks
    from workers.queue import queue_from_settings

    settings = get_settings()
    db, queue = Database.from_settings(settings), queue_from_settings(settings)
    try:
        checks = dependency_checks(db, queue)
    finally:
        queue.close()
        db.dispose()
    click.echo(", ".join(f"{name}: {state}" for name, state in checks.items()))
    if any(state != "ok" for state in checks.values()):
        sys.exit(1)


@main.command("purge-audio")
@click.option(
    "--unused-days",
    type=float,
    default=None,
    help="Remove audio unused this many days (default TELLWELL_AUDIO_RETENTION_DAYS).",
)
def purge_audio_command(unused_days: float | None) -> None:
    """Delete rendered audio no longer needed; its links then answer 410 Gone."""
    from datetime import timedelta

    from service.audio_store import audio_store_from_settings
    from workers.retention import purge_audio

    settings = get_settings()
    days = settings.audio_retention_days if unused_days is None else unused_days
    db = Database.from_settings(settings)
    store = audio_store_from_settings(settings, db)
    report = purge_audio(db, settings.audio_dir, timedelta(days=days), store=store)
    click.echo(f"removed {report.files_removed} files; {report.records_marked} links now gone")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default="", help="Who or what will use the key (for the audit log).")
@click.option(
    "--clinic",
    "clinics",
    multiple=True,
    help="Limit a scheduler key to this clinic id (repeat for several); none: any clinic.",
)
def keys_create(role: str, name: str, clinics: tuple[str, ...]) -> None:
    """Create a key and print it once; only its hash is stored."""
    import re

    from service.schemas import CLINIC_ID_PATTERN
    from service.security import issue_key

    if clinics and role != Role.SCHEDULER:
        raise click.UsageError("--clinic limits scheduler keys only")
    if bad := [c for c in clinics if not re.fullmatch(CLINIC_ID_PATTERN, c)]:
        raise click.BadParameter(f"not a clinic id: {', '.join(bad)}", param_hint="--clinic")
    db = Database.from_settings(get_settings())
    with db.session() as session:
        issued = issue_key(session, Role(role), name, sorted(set(clinics)) or None)
    click.echo(issued.raw)


@main.command()
@click.option("--kind", required=True)
@click.option("--language", required=True)
@click.option("--variant", required=True, type=click.Choice(["call", "voicemail", "app"]))
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON with patient, clinic and appointment or result, as in the API.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the audio: .mp3 (preview) or .wav (phone line).",
)
def render(kind: str, language: str, variant: str, data_file: str, output: str) -> None:
    """Render one message offline, without a server, and print its transcript."""
    from templates import TemplateError
    from voices import AudioFormat, VoiceError
    from workers.jobs import speaker_from_settings
    from workers.rendering import Renderer

    fmt = AudioFormat.PHONE if output.endswith(".wav") else AudioFormat.PREVIEW
    facts = json.loads(Path(data_file).read_text())
    renderer = Renderer(speaker_from_settings(get_settings()))
    try:
        rendered = renderer.render(kind, language, variant, facts, fmt, today=SYSTEM_CLOCK.now())
    except (TemplateError, VoiceError, KeyError) as err:
        click.echo(f"cannot render: {err}", err=True)
        sys.exit(2)
    shutil.copyfile(rendered.audio.path, output)
    click.echo(rendered.message.text)
    click.echo(
        f"{rendered.audio.duration_s:.1f} s, {rendered.audio.engine}/{rendered.audio.voice}"
        f" -> {output}",
        err=True,
    )
