"""``/fhir/r4``: the FHIR app, mounted by ``service.app`` beside the JSON API.

It has its own error handlers (``outcome``): every error is an OperationOutcome. It is
left out of the OpenAPI document; the CapabilityStatement (``GET /fhir/r4/metadata``)
describes it, and docs/fhir.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from service.appointments import change_patient, clinic_for, put_appointment
from service.deps import AnyCaller, Scheduler, Services, ServicesDep, SessionDep
from service.errors import FieldError, ValidationProblem
from service.fhir_store import (
    AppointmentSearch,
    OneTransaction,
    appointments_of_patient,
    check_order,
    find_resource,
    save_resource,
    search_appointments,
)
from service.intake.fhir.capability import capability_statement
from service.intake.fhir.communication import (
    APPOINTMENT_RESPONSES,
    COMMUNICATIONS,
    OutcomeKind,
    Period,
    messages,
)
from service.intake.fhir.mapping import (
    FHIR_STATUSES,
    appointment_request,
    find_clinic_named,
    identifiers_of,
    not_found,
    participants,
    reference_key,
    source_order,
)
from service.intake.fhir.outcome import (
    FHIR_JSON,
    install_outcome_handlers,
    invalid,
    warning_outcome,
)
from service.intake.fhir.requests import request_message
from service.models import Appointment, Clinic, FhirResource, audit, is_record_id, new_id
from service.paging import CURSOR_MAX_CHARS, decode_cursor, encode_cursor
from service.security import Caller
from workers.queue import RENDER_JOB

MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Appointment": FhirAppointment,
    "Practitioner": Practitioner,
    "Location": Location,
    "Organization": Organization,
}
"""What a transaction Bundle may hold; only Patients and Appointments are stored."""
STORED = ("Patient", "Appointment")
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
SEARCH_LIMIT = 100
"""The most matches a search page holds (``_count`` asks for fewer)."""
CURSOR = "_cursor"
ResourceId = Annotated[str, Path(pattern=FHIR_ID)]
Resource = Annotated[dict[str, Any], Body(media_type=FHIR_JSON)]


def fhir(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def validated(resource: Any, where: str = "") -> dict[str, Any]:
    """The resource, checked by its R4B model; 422 naming each bad element."""
    if not isinstance(resource, dict) or resource.get("resourceType") not in MODELS:
        raise ValidationProblem(
            [FieldError(f"{where}resourceType", f"must be one of: {', '.join(MODELS)}")]
        )
    kind = str(resource["resourceType"])
    try:
        MODELS[kind].model_validate(resource)
    except ValidationError as err:
        raise invalid(where.rstrip(".") or kind, err) from err
    return resource


@dataclass
class Stored:
    resource_type: str
    resource_id: str
    created: bool
    warnings: tuple[FieldError, ...] = ()
    """An Appointment's free text in another language than its patient's."""


def store(
    session: OneTransaction,
    services: Services,
    caller: Caller,
    resources: list[dict[str, Any]],
) -> tuple[list[Stored], list[str]]:
    """Store Patients, then Appointments (which plan reminders), in one transaction.

    ``resources`` are validated, with ids and references resolved; the others in the list
    (Practitioner, Location, Organization) only resolve references. Returns what was
    stored and the reminders due now (to enqueue once committed).
    """
    now = services.pipeline.clock.now()
    offered = services.pipeline.renderer.offered_kinds
    known = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    done: list[Stored] = []
    due: list[str] = []
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        order = source_order(patient, "Patient")
        row = find_resource(session, caller, "Patient", patient["id"])
        if row is None and _exists(session, "Patient", patient["id"]):
            raise not_found("Patient")
        changed = row is not None and row.body != patient
        if row is None or check_order(row, order, row.body == patient):
            save_resource(session, caller, patient, order, identifiers_of(patient), now)
        if changed:  # its visits not in this request take the new contact and language
            sent = {r["id"] for r in resources if r["resourceType"] == "Appointment"}
            due += replan_for_patient(session, caller, patient, sent, offered, now)
        done.append(Stored("Patient", patient["id"], row is None))
    for appointment in (r for r in resources if r["resourceType"] == "Appointment"):
        found = participants(appointment, known)
        told = known.get(f"Patient/{found.patient_id}")
        if told is None:
            row = find_resource(session, caller, "Patient", found.patient_id)
            if row is None:
                raise ValidationProblem(
                    [FieldError("Appointment.participant.actor", "names a Patient we do not have")]
                )
            told = row.body
        previous = find_resource(session, caller, "Appointment", appointment["id"])
        if previous is None and _exists(session, "Appointment", appointment["id"]):
            raise not_found("Appointment")
        stored = None
        if previous is not None and previous.appointment_id is not None:
            stored = session.get(Appointment, previous.appointment_id)
        clinic = _clinic_of(session, found.clinic_names, stored)
        clinic_for(session, caller, clinic.id)  # 403 for a key limited to other clinics
        if stored is not None and stored.clinic_id != clinic.id:
            raise ValidationProblem(
                [FieldError("Appointment.participant", "names another clinic than before")]
            )
        request = appointment_request(appointment, told, clinic, found, offered)
        written = put_appointment(
            session, caller, clinic.id, appointment["id"], request, offered, now
        )
        save_resource(
            session,
            caller,
            appointment,
            source_order(appointment, "Appointment"),
            identifiers_of(appointment),
            now,
            appointment_id=written.appointment.id,
            patient_id=found.patient_id,
        )
        due += written.due
        created = written.change == "created"
        done.append(Stored("Appointment", appointment["id"], created, written.warnings))
    return done, due


def replan_for_patient(
    session: Session,
    caller: Caller,
    patient: dict[str, Any],
    skipped: set[str],
    offered: Mapping[str, Sequence[str]],
    now: datetime,
) -> list[str]:
    """A Patient stored with other content: each of its stored Appointments (but those in
    ``skipped``, sent in the same request) takes the patient's new name, phone and
    language, its reminders re-planned; the reminders due now."""
    due: list[str] = []
    for row in appointments_of_patient(session, caller, patient["id"]):
        stored = session.get(Appointment, row.appointment_id)
        if row.resource_id in skipped or stored is None:
            continue
        clinic = session.get(Clinic, stored.clinic_id)
        assert clinic is not None  # a clinic is soft-deleted, never removed
        found = participants(row.body, {})
        request = appointment_request(row.body, patient, clinic, found, offered)
        due += change_patient(session, caller, stored, request, clinic, offered, now).due
    return due


def _clinic_of(session: Session, names: list[str], stored: Appointment | None) -> Clinic:
    """The clinic the participants name; for an Appointment stored before, whose
    participants name none we know (the EHR sends back what it read: its Location was
    only resolved inside the first Bundle), the clinic it is kept in."""
    try:
        return find_clinic_named(session, names)
    except ValidationProblem:
        kept = session.get(Clinic, stored.clinic_id) if stored is not None else None
        if kept is None or kept.deleted_at is not None:
            raise
        return kept


def _exists(session: OneTransaction, resource_type: str, resource_id: str) -> bool:
    return session.get(FhirResource, (resource_type, resource_id)) is not None


@contextmanager
def one_transaction(services: Services) -> Iterator[OneTransaction]:
    """A request's writes, committed together at the end or not at all."""
    session = OneTransaction(bind=services.db.engine, expire_on_commit=False)
    try:
        yield session
        session.finish()
    except BaseException:
        session.abandon()
        raise
    finally:
        session.close()


def write(services: Services, caller: Caller, resources: list[dict[str, Any]]) -> list[Stored]:
    """``store`` in one transaction, committed, then the due reminders enqueued."""
    with one_transaction(services) as session:
        done, due = store(session, services, caller, resources)
    if due:  # committed already: should this fail, the sweeper enqueues them
        services.pipeline.enqueue(RENDER_JOB, *due)
    return done


def _put(
    services: Services,
    caller: Caller,
    kind: str,
    resource_id: str,
    body: Any,
    prefer: str | None = None,
) -> JSONResponse:
    """Store one resource; answer it as stored, or with ``Prefer: return=OperationOutcome``
    an OperationOutcome holding its warnings (FHIR's place for them on a success)."""
    resource = validated(body)
    if resource["resourceType"] != kind:
        raise ValidationProblem([FieldError(f"{kind}.resourceType", f"must be {kind}")])
    if resource.get("id") != resource_id:
        raise ValidationProblem([FieldError(f"{kind}.id", "must be the id in the URL")])
    (stored,) = [s for s in write(services, caller, [resource]) if s.resource_type == kind]
    status = 201 if stored.created else 200
    if prefer and "return=operationoutcome" in prefer.replace(" ", "").lower():
        return fhir(warning_outcome(stored.warnings), status)
    return fhir(resource, status)


def create_fhir_app(state: State) -> FastAPI:
    """The FHIR app; ``state`` is the main app's, where the lifespan puts the services."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state = state
    install_outcome_handlers(app)

    @app.get("/metadata", operation_id="fhir_capabilities")
    def metadata() -> JSONResponse:
        return fhir(capability_statement())

    @app.put("/Patient/{resource_id}", operation_id="fhir_put_patient")
    def put_patient(
        resource_id: ResourceId, body: Resource, caller: Scheduler, services: ServicesDep
    ) -> JSONResponse:
        return _put(services, caller, "Patient", resource_id, body)

    @app.get("/Patient/{resource_id}", operation_id="fhir_get_patient")
    def get_patient(
        resource_id: ResourceId, caller: AnyCaller, session: SessionDep
    ) -> JSONResponse:
        row = find_resource(session, caller, "Patient", resource_id)
        if row is None:
            raise not_found("Patient")
        return fhir(row.body)

    @app.put("/Appointment/{resource_id}", operation_id="fhir_put_appointment")
    def put_fhir_appointment(
        resource_id: ResourceId,
        body: Resource,
        caller: Scheduler,
        services: ServicesDep,
        prefer: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        return _put(services, caller, "Appointment", resource_id, body, prefer)

    @app.get("/Appointment/{resource_id}", operation_id="fhir_get_appointment")
    def get_fhir_appointment(
        resource_id: ResourceId, caller: AnyCaller, session: SessionDep
    ) -> JSONResponse:
        row = find_resource(session, caller, "Appointment", resource_id)
        if row is None or row.appointment_id is None:
            raise not_found("Appointment")
        appointment = session.get(Appointment, row.appointment_id)
        audit(session, caller.id, "appointment.read", "appointment", row.appointment_id)
        session.commit()
        return fhir(_as_now(row.body, appointment))

    @app.get("/Appointment", operation_id="fhir_search_appointments")
    def search(
        request: Request,
        caller: AnyCaller,
        session: SessionDep,
        page: PageDep,
        identifier: Annotated[str | None, Query(max_length=300)] = None,
        patient: Annotated[str | None, Query(max_length=200)] = None,
        date: Annotated[list[str] | None, Query()] = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
    ) -> JSONResponse:
        found = search_appointments(
            session,
            caller,
            _search(identifier, patient, date or [], status),
            limit=page.size + 1,
            after=page.after(_is_fhir_id),
        )
        shown = found[: page.size]
        appointments = {
            a.id: a
            for a in session.query(Appointment).filter(
                Appointment.id.in_([row.appointment_id for row, _ in shown])
            )
        }
        now = [_as_now(row.body, appointments.get(row.appointment_id or "")) for row, _ in shown]
        last = shown[-1] if len(found) > page.size else None
        following = encode_cursor(last[1], last[0].resource_id) if last else None
        return _searchset(request, now, page, following)

    @app.post("/CommunicationRequest", operation_id="fhir_request_communication")
    def post_communication_request(
        body: Resource, caller: Scheduler, services: ServicesDep
    ) -> JSONResponse:
        with one_transaction(services) as session:
            reminder_id, due = request_message(
                session, caller, body, services.pipeline, services.links
            )
        if due:  # committed already: should this fail, the sweeper enqueues it
            services.pipeline.enqueue(RENDER_JOB, reminder_id)
        answer = fhir({**body, "id": reminder_id}, 201)
        answer.headers["Location"] = f"CommunicationRequest/{reminder_id}"
        return answer

    @app.get("/Communication", operation_id="fhir_search_communications")
    def search_communications(
        request: Request,
        caller: AnyCaller,
        session: SessionDep,
        page: PageDep,
        about: Annotated[str | None, Query(max_length=200)] = None,
        patient: Annotated[str | None, Query(max_length=200)] = None,
        last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated")] = None,
    ) -> JSONResponse:
        search = OutcomeSearch(COMMUNICATIONS, about, patient, last_updated, page)
        return search_outcomes(request, session, caller, search)

    @app.get("/AppointmentResponse", operation_id="fhir_search_appointment_responses")
    def search_appointment_responses(
        request: Request,
        caller: AnyCaller,
        session: SessionDep,
        page: PageDep,
        appointment: Annotated[str | None, Query(max_length=200)] = None,
        patient: Annotated[str | None, Query(max_length=200)] = None,
        last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated")] = None,
    ) -> JSONResponse:
        search = OutcomeSearch(APPOINTMENT_RESPONSES, appointment, patient, last_updated, page)
        return search_outcomes(request, session, caller, search)

    @app.post("/", operation_id="fhir_transaction")
    def transaction(body: Resource, caller: Scheduler, services: ServicesDep) -> JSONResponse:
        resources, answers = _unpack(body)
        warned = {
            (s.resource_type, s.resource_id): s.warnings
            for s in write(services, caller, resources)
            if s.warnings
        }
        for resource, answer in zip(resources, answers, strict=True):
            if warnings := warned.get((resource["resourceType"], resource["id"])):
                answer["response"]["outcome"] = warning_outcome(warnings)
        response = {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
        Bundle.model_validate(response)
        return fhir(response)

    return app


@dataclass(frozen=True)
class Page:
    """The paging parameters of a search: ``_count`` (capped at ``SEARCH_LIMIT``, as FHIR
    lets a server do) and ``_cursor``, the last match of the previous page as its
    ``next`` link gives it. Keyset paging: a page starts right after the last one shown,
    so matches arriving meanwhile never make a page skip or repeat one."""

    size: int
    cursor: str | None

    def after(self, is_id: Callable[[str], bool]) -> tuple[datetime, str] | None:
        """The (time, id) the cursor names; 422 at ``_cursor`` if it is not one of ours."""
        return decode_cursor(self.cursor, is_id, CURSOR) if self.cursor is not None else None


def page_parameters(
    count: Annotated[int, Query(alias="_count", ge=1)] = SEARCH_LIMIT,
    cursor: Annotated[str | None, Query(alias=CURSOR, max_length=CURSOR_MAX_CHARS)] = None,
) -> Page:
    return Page(min(count, SEARCH_LIMIT), cursor)


PageDep = Annotated[Page, Depends(page_parameters)]


def _is_fhir_id(text: str) -> bool:
    return re.fullmatch(FHIR_ID, text) is not None


@dataclass(frozen=True)
class OutcomeSearch:
    """A search of Communications or AppointmentResponses: the visit (``about`` or
    ``appointment``) and/or the patient, ``_lastUpdated``, the page."""

    kind: OutcomeKind
    visit: str | None
    patient: str | None
    last_updated: list[str] | None
    page: Page


def search_outcomes(
    request: Request, session: Session, caller: Caller, search: OutcomeSearch
) -> JSONResponse:
    """The one search path of both outcome resources: the visits named, then their
    messages one page at a time, by send time and id."""
    kind = search.kind
    if search.visit is None and search.patient is None:
        raise ValidationProblem([FieldError(kind.visit_parameter, "or patient is required")])
    updated = _last_updated(search.last_updated)
    after = search.page.after(is_record_id)
    rows = [
        row
        for row, _ in search_appointments(session, caller, _search(None, search.patient, [], None))
    ]
    if search.visit is not None:
        key = reference_key(search.visit) or ("Appointment", search.visit)
        rows = [row for row in rows if (row.resource_type, row.resource_id) == key]
    size = search.page.size
    found = messages(session, rows, updated, statuses=kind.statuses, after=after, limit=size + 1)
    shown = found[:size]
    last = shown[-1].reminder if len(found) > size else None
    following = encode_cursor(last.send_at, last.id) if last else None
    return _searchset(request, [kind.render(m) for m in shown], search.page, following)


def _searchset(
    request: Request, resources: list[dict[str, Any]], page: Page, following: str | None
) -> JSONResponse:
    """A searchset Bundle: the page's matches, a ``self`` link and, when more follow, a
    ``next`` link (the same search with ``_cursor``); ``total`` only when every match is
    on this page (FHIR lets a server leave it out)."""
    base = str(request.base_url).rstrip("/")
    entries = [
        {
            "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in resources
    ]
    links = [{"relation": "self", "url": str(request.url)}]
    if following is not None:
        url = request.url.include_query_params(**{CURSOR: following, "_count": page.size})
        links.append({"relation": "next", "url": str(url)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if page.cursor is None and following is None:
        bundle["total"] = len(entries)
    bundle |= {"link": links, "entry": entries}
    Bundle.model_validate(bundle)
    return fhir(bundle)


def _as_now(body: dict[str, Any], appointment: Appointment | None) -> dict[str, Any]:
    """The Appointment as sent, with its status as it stands now (a JSON-API cancel)."""
    if appointment is None or FHIR_STATUSES.get(str(body.get("status"))) == appointment.status:
        return body
    return {**body, "status": appointment.status}


DATE_PARAM = re.compile(r"^(eq|ne|gt|lt|ge|le)?(\d{4}-\d{2}-\d{2})(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?$")


def _search(
    identifier: str | None, patient: str | None, dates: list[str], status: str | None
) -> AppointmentSearch:
    errors: list[FieldError] = []
    token: tuple[str | None, str] | None = None
    if identifier:
        system, bar, value = identifier.rpartition("|")
        token = (system if bar else None, value)
    patient_id = None
    if patient:
        key = reference_key(patient)
        patient_id = key[1] if key else patient
    ours = None
    if status:
        mapped = FHIR_STATUSES.get(status)
        if mapped is None:
            errors.append(FieldError("status", f"must be one of: {', '.join(FHIR_STATUSES)}"))
        ours = mapped.value if mapped else None
    starts = _period("date", dates, errors)
    if errors:
        raise ValidationProblem(errors)
    return AppointmentSearch(token, patient_id, ours, starts.start, starts.end)


def _period(name: str, texts: list[str], errors: list[FieldError]) -> Period:
    """FHIR date search values (``ge2030-01-01``, ``lt2030-01-02T10:00:00Z``…) as one
    half-open period, each value narrowing it; a value we cannot read is an error at
    ``name``. A date without a time is the whole UTC day, a time the whole second."""
    start: datetime | None = None
    end: datetime | None = None
    for text in texts:
        match = DATE_PARAM.match(text)
        if match is None or match.group(1) == "ne":
            errors.append(FieldError(name, "must be [eq|ge|gt|le|lt]YYYY-MM-DD[Thh:mm:ss+zz:zz]"))
            continue
        prefix = match.group(1) or "eq"
        if match.group(3):
            low = datetime.fromisoformat(text[len(match.group(1) or "") :].replace("Z", "+00:00"))
            high = low + timedelta(seconds=1)
        else:
            low = datetime.fromisoformat(match.group(2)).replace(tzinfo=UTC)
            high = low + timedelta(days=1)
        if prefix in {"eq", "ge"}:
            start = max(filter(None, (start, low)))
        if prefix == "gt":
            start = max(filter(None, (start, high)))
        if prefix in {"eq", "le"}:
            end = min(filter(None, (end, high)))
        if prefix == "lt":
            end = min(filter(None, (end, low)))
    return Period(start, end)


def _last_updated(texts: list[str] | None) -> Period:
    """The ``_lastUpdated`` parameter of the outcome searches."""
    errors: list[FieldError] = []
    period = _period("_lastUpdated", texts or [], errors)
    if errors:
        raise ValidationProblem(errors)
    return period


def _unpack(bundle: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A transaction Bundle's resources with ids given and references resolved, and the
    transaction-response entries; 422 naming the entry when one cannot be taken."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValidationProblem([FieldError("Bundle.resourceType", "must be Bundle")])
    try:
        Bundle.model_validate(bundle)
    except ValidationError as err:
        raise invalid("Bundle", err) from err
    if bundle.get("type") != "transaction":
        raise ValidationProblem([FieldError("Bundle.type", "must be transaction")])
    entries = bundle.get("entry") or []
    ids: dict[str, str] = {}
    resources: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        resource = validated(entry.get("resource"), f"{where}.resource.")
        kind = resource["resourceType"]
        method = (entry.get("request") or {}).get("method")
        url = (entry.get("request") or {}).get("url") or ""
        if method == "PUT" and reference_key(url) == (kind, resource.get("id")):
            resource_id = str(resource["id"])
        elif method == "POST" and url.rstrip("/") == kind:
            resource_id = new_id()
        else:
            raise ValidationProblem(
                [FieldError(f"{where}.request", f"must be PUT {kind}/<its id> or POST {kind}")]
            )
        if entry.get("fullUrl"):
            ids[entry["fullUrl"]] = f"{kind}/{resource_id}"
        resource = {**resource, "id": resource_id}
        resources.append(resource)
        created = method == "POST"
        answer: dict[str, Any] = {"status": "201 Created" if created else "200 OK"}
        if kind in STORED:
            answer["location"] = f"{kind}/{resource_id}"
        answers.append({"response": answer})
    resolved = [_resolve(resource, ids) for resource in resources]
    return resolved, answers


def _resolve(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every ``reference`` to a fullUrl in the Bundle made ``Type/id``."""
    if isinstance(value, dict):
        return {
            k: ids.get(v, v) if k == "reference" and isinstance(v, str) else _resolve(v, ids)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(item, ids) for item in value]
    return value


BASE = "/fhir/r4"


class BaseWithoutSlash:
    """Routes ``POST /fhir/r4`` (a transaction: FHIR's base URL has no trailing slash) to
    the mounted app, which Starlette would otherwise answer with a 307 to ``/fhir/r4/``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BASE:
            scope = {**scope, "path": BASE + "/", "raw_path": (BASE + "/").encode()}
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Mount the FHIR app at ``/fhir/r4``, sharing the main app's state (its services)."""
    app.mount(BASE, create_fhir_app(app.state))
    app.add_middleware(BaseWithoutSlash)
