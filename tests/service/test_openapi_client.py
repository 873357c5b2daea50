"""A client generated from our OpenAPI document works, errors included.

As an integration engineer would: ``openapi-python-client`` generates a package from the
document the app serves (once per test run, offline), and that package is driven against
the app running in uvicorn. Every answer is checked as the parsed model the client gives,
never as raw JSON: a document that lied about a status, a media type or a shape would
leave the client with ``None``, a crash or the wrong model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import ApiKey, IdempotencyRecord, Reminder, Status
from service.reminders import request_hash
from service.schemas import ReminderRequest
from tests.support.api import ANSWER_WITHIN_S, Keys, LiveServer, reminder_body
from tests.support.clinics import clinic_body

PACKAGE = "tellwell_client"
GENERATOR_CONFIG = {
    "post_hooks": [],  # no formatter run: the generated code is used as generated
    # Audio is bytes to a client; the generator only knows octet-stream as bytes.
    "content_type_overrides": {
        media_type: "application/octet-stream"
        for media_type in ("audio/mpeg", "audio/wav", "audio/ogg", "multipart/byteranges")
    },
}
GENERATE_TIMEOUT_S = 120
BIG_TEXT_CHARS = 100_000
"""Over the body limit (``max_body_bytes``) when sent as appointment instructions."""
UNKNOWN_ID = "0" * 32


@dataclass
class Generated:
    """The generated package and the operations the tests drive."""

    document: dict[str, Any]
    package: ModuleType
    models: ModuleType

    def operation(self, tag: str, name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")

    def client(self, live: LiveServer, key: str | None = None) -> Any:
        wait = httpx.Timeout(ANSWER_WITHIN_S)
        if key is None:
            return self.package.Client(
                base_url=live.url, raise_on_unexpected_status=True, timeout=wait
            )
        return self.package.AuthenticatedClient(
            base_url=live.url, token=key, raise_on_unexpected_status=True, timeout=wait
        )


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated-client")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'unused.sqlite3'}",
        secret_key="generated-client",
    )
    document = create_app(settings).openapi()
    (root / "openapi.json").write_text(json.dumps(document))
    (root / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    command = [
        *(sys.executable, "-m", "openapi_python_client", "generate"),
        *("--path", str(root / "openapi.json")),
        *("--output-path", str(root / "site" / PACKAGE)),
        *("--config", str(root / "config.json")),
        *("--meta", "none"),
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=GENERATE_TIMEOUT_S, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Any warning means part of the document could not be turned into client code.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(root / "site"))
    try:
        yield Generated(
            document=document,
            package=importlib.import_module(PACKAGE),
            models=importlib.import_module(f"{PACKAGE}.models"),
        )
    finally:
        sys.path.remove(str(root / "site"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def later() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def preview_body() -> dict[str, Any]:
    body = reminder_body()
    del body["external_id"]
    del body["patient"]["phone"]
    return body


def assert_problem(generated: Generated, answer: Any, status: int) -> Any:
    """The parsed answer is a Problem with this status and its ``errors`` parsed too."""
    models = generated.models
    assert answer.status_code == status, answer.content
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.parsed
    assert isinstance(problem, models.Problem), problem
    assert problem.status == status
    assert problem.type_.startswith("https://") and problem.title and problem.detail
    assert all(isinstance(error, models.FieldError) for error in problem.errors)
    return problem


def test_client_creates_reads_lists_and_cancels(
    generated: Generated, live_server: LiveServer, keys: Keys
) -> None:
    served = live_server.get("/openapi.json").json()
    assert served == generated.document, "the client must be generated from what is served"
    models = generated.models
    client = generated.client(live_server, keys.scheduler)
    create = generated.operation("reminders", "create_reminder")
    send_at = later()
    body = models.ReminderRequest.from_dict(reminder_body(send_at=send_at.isoformat()))

    first = create.sync_detailed(client=client, body=body, idempotency_key="appt-88123-r1")
    again = create.sync_detailed(client=client, body=body, idempotency_key="appt-88123-r1")
    assert first.status_code == again.status_code == 202
    accepted = first.parsed
    assert isinstance(accepted, models.Accepted)
    assert accepted.status == models.Status.SCHEDULED
    assert accepted.send_at == send_at and accepted.send_at.utcoffset() == timedelta(0)
    assert again.parsed.to_dict() == accepted.to_dict()

    reminder = generated.operation("reminders", "get_reminder").sync(accepted.id, client=client)
    assert isinstance(reminder, models.ReminderOut)
    assert reminder.kind == models.Kind.APPOINTMENT_REMINDER
    assert reminder.channel == models.ChannelName.PHONE
    assert reminder.send_at == accepted.send_at
    assert [event.status for event in reminder.events] == [models.Status.SCHEDULED]
    assert isinstance(reminder.events[0].at, datetime)
    assert reminder.attempts == [] and reminder.message is None

    for n in range(2):
        more = models.ReminderRequest.from_dict(
            reminder_body(send_at=send_at.isoformat(), external_id=f"appt-{n}")
        )
        assert isinstance(create.sync(client=client, body=more), models.Accepted)
    list_reminders = generated.operation("reminders", "list_reminders")
    page = list_reminders.sync(client=client, limit=2)
    assert isinstance(page, models.ReminderPage)
    assert len(page.items) == 2 and isinstance(page.next_cursor, str)
    rest = list_reminders.sync(client=client, limit=2, cursor=page.next_cursor)
    assert len(rest.items) == 1 and rest.next_cursor is None
    listed = [item.id for item in [*page.items, *rest.items]]
    assert len(set(listed)) == 3 and accepted.id in listed
    scheduled = list_reminders.sync(client=client, status=models.Status.SCHEDULED)
    assert {item.status for item in scheduled.items} == {models.Status.SCHEDULED}

    cancelled = generated.operation("reminders", "cancel_reminder").sync(accepted.id, client=client)
    assert isinstance(cancelled, models.ReminderOut)
    assert cancelled.status == models.Status.CANCELLED
    assert [e.status for e in cancelled.events] == [
        models.Status.SCHEDULED,
        models.Status.CANCELLED,
    ]


def test_client_previews_plays_audio_and_lists_languages(
    generated: Generated, live_server: LiveServer, keys: Keys
) -> None:
    models = generated.models
    staff = generated.client(live_server, keys.staff)
    preview = generated.operation("previews", "create_preview").sync(
        client=staff, body=models.PreviewRequest.from_dict(preview_body())
    )
    assert isinstance(preview, models.PreviewOut)
    assert preview.variant == models.Variant.CALL
    assert isinstance(preview.engine, models.EngineName) and preview.language == "es"
    assert "María" in preview.text and isinstance(preview.warnings, list)

    get_audio = generated.operation("audio", "get_audio")
    token = preview.audio_url.rsplit("/", 1)[1]
    whole = get_audio.sync_detailed(token, client=generated.client(live_server))
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/mpeg"
    audio = whole.parsed.payload.read()
    assert len(audio) > 1000
    part = get_audio.sync_detailed(token, client=generated.client(live_server), range_="bytes=0-99")
    assert part.status_code == 206
    assert part.parsed.payload.read() == audio[:100]

    languages = generated.operation("languages", "list_languages").sync(client=staff)
    by_code = {language.code: language for language in languages}
    assert isinstance(by_code["es"], models.LanguageOut)
    assert models.Kind.APPOINTMENT_REMINDER in by_code["es"].kinds
    assert isinstance(by_code["es"].engine, models.EngineName)

    ready = generated.operation("health", "readyz").sync(client=generated.client(live_server))
    assert isinstance(ready, models.Readiness)
    assert ready.status == models.ReadinessStatus.OK and ready.checks.database == "ok"


def test_client_parses_every_problem(
    generated: Generated, live_server: LiveServer, keys: Keys, settings: Settings
) -> None:
    models = generated.models
    scheduler = generated.client(live_server, keys.scheduler)
    create = generated.operation("reminders", "create_reminder")
    body_dict = reminder_body(send_at=later().isoformat())
    body = models.ReminderRequest.from_dict(body_dict)

    no_key = create.sync_detailed(client=generated.client(live_server), body=body)
    assert_problem(generated, no_key, 401)
    assert no_key.headers["www-authenticate"] == "Bearer"
    bad_key = create.sync_detailed(client=generated.client(live_server, "tw_nope"), body=body)
    assert assert_problem(generated, bad_key, 401).errors == []

    wrong_role = create.sync_detailed(client=generated.client(live_server, keys.staff), body=body)
    assert "scheduler" in assert_problem(generated, wrong_role, 403).detail

    get_reminder = generated.operation("reminders", "get_reminder")
    assert_problem(generated, get_reminder.sync_detailed(UNKNOWN_ID, client=scheduler), 404)

    bad_phone = models.ReminderRequest.from_dict(
        {**body_dict, "patient": {**body_dict["patient"], "phone": "(312) 555-0123"}}
    )
    invalid = assert_problem(generated, create.sync_detailed(client=scheduler, body=bad_phone), 422)
    assert [error.field for error in invalid.errors] == ["patient.phone"]
    assert "E.164" in invalid.errors[0].message
    bad_cursor = generated.operation("reminders", "list_reminders").sync_detailed(
        client=scheduler, cursor="not a cursor"
    )
    assert [e.field for e in assert_problem(generated, bad_cursor, 422).errors] == ["cursor"]

    huge = models.ReminderRequest.from_dict(
        {
            **body_dict,
            "appointment": {**body_dict["appointment"], "instructions": "x" * BIG_TEXT_CHARS},
        }
    )
    assert_problem(generated, create.sync_detailed(client=scheduler, body=huge), 413)

    _assert_conflicts(generated, live_server, keys, settings.database_url, body)
    _assert_audio_problems(generated, live_server, keys, settings.audio_dir)


def _assert_conflicts(
    generated: Generated, live: LiveServer, keys: Keys, database_url: str, body: Any
) -> None:
    """409 twice: cancelling once the call has begun, and a request still in flight."""
    scheduler = generated.client(live, keys.scheduler)
    create = generated.operation("reminders", "create_reminder")
    accepted = create.sync(client=scheduler, body=body)
    db = Database(database_url)
    with db.session() as session:
        session.execute(
            update(Reminder).where(Reminder.id == accepted.id).values(status=Status.DISPATCHING)
        )
        # What a first request leaves while it is still being written: a claim, no answer.
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "epic"))
        fingerprint = request_hash(ReminderRequest.model_validate(body.to_dict()))
        session.add(IdempotencyRecord(api_key_id=key_id, key="in-flight", request_hash=fingerprint))
    db.dispose()

    cancel = generated.operation("reminders", "cancel_reminder")
    too_late = assert_problem(generated, cancel.sync_detailed(accepted.id, client=scheduler), 409)
    assert "dispatching" in too_late.detail
    in_flight = create.sync_detailed(client=scheduler, body=body, idempotency_key="in-flight")
    assert_problem(generated, in_flight, 409)
    assert in_flight.headers["retry-after"] == "1"


def _assert_audio_problems(
    generated: Generated, live: LiveServer, keys: Keys, audio_dir: Path
) -> None:
    """403 forged link, 400 malformed range, 416 range beyond the file, 410 once purged."""
    models = generated.models
    preview = generated.operation("previews", "create_preview").sync(
        client=generated.client(live, keys.staff),
        body=models.PreviewRequest.from_dict(preview_body()),
    )
    token = preview.audio_url.rsplit("/", 1)[1]
    get_audio = generated.operation("audio", "get_audio")
    anyone = generated.client(live)

    forged = get_audio.sync_detailed(
        token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), client=anyone
    )
    assert "link" in assert_problem(generated, forged, 403).detail
    malformed = get_audio.sync_detailed(token, client=anyone, range_="pages=1-2")
    assert_problem(generated, malformed, 400)
    beyond = get_audio.sync_detailed(token, client=anyone, range_="bytes=999999999-")
    assert_problem(generated, beyond, 416)
    assert beyond.headers["content-range"].startswith("bytes */")

    for file in audio_dir.rglob("*.mp3"):
        file.unlink()
    assert_problem(generated, get_audio.sync_detailed(token, client=anyone), 410)


def test_client_configures_a_clinic_and_names_it_by_id(
    generated: Generated, live_server: LiveServer, keys: Keys
) -> None:
    models = generated.models
    admin = generated.client(live_server, keys.admin)
    create_clinic = generated.operation("clinics", "create_clinic")
    created = create_clinic.sync(client=admin, body=models.ClinicCreate.from_dict(clinic_body()))
    assert isinstance(created, models.ClinicOut)
    offsets = created.schedule.appointment_reminder
    assert all(isinstance(offset, models.ReminderOffset) for offset in offsets)
    assert (offsets[0].days_before, offsets[0].at, offsets[1].hours_before) == (2, "10:00", 3)
    taken = create_clinic.sync_detailed(
        client=admin, body=models.ClinicCreate.from_dict(clinic_body())
    )
    assert "riverside" in assert_problem(generated, taken, 409).detail

    changed = generated.operation("clinics", "update_clinic").sync(
        "riverside", client=admin, body=models.ClinicPatch.from_dict({"caller_id": None})
    )
    assert isinstance(changed, models.ClinicOut) and changed.caller_id is None
    listed = generated.operation("clinics", "list_clinics").sync(
        client=generated.client(live_server, keys.staff)
    )
    assert [clinic.id for clinic in listed.items] == ["riverside"]

    body = reminder_body(send_at=later().isoformat(), clinic={"id": "riverside"})
    del body["patient"]["timezone"]
    request = models.ReminderRequest.from_dict(body)
    assert isinstance(request.clinic, models.ClinicRef)
    scheduler = generated.client(live_server, keys.scheduler)
    accepted = generated.operation("reminders", "create_reminder").sync(
        client=scheduler, body=request
    )
    assert isinstance(accepted, models.Accepted)
    unknown = models.ReminderRequest.from_dict(body | {"clinic": {"id": "nowhere"}})
    refused = generated.operation("reminders", "create_reminder").sync_detailed(
        client=scheduler, body=unknown
    )
    assert [e.field for e in assert_problem(generated, refused, 422).errors] == ["clinic.id"]

    deleted = generated.operation("clinics", "delete_clinic").sync_detailed(
        "riverside", client=admin
    )
    assert deleted.status_code == 204
    gone = generated.operation("clinics", "get_clinic").sync_detailed("riverside", client=admin)
    assert_problem(generated, gone, 404)
