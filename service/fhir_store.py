"""FHIR resources as their senders stored them, ordered by the sender's ``meta``.

The FHIR face (``service.intake.fhir``) keeps each Patient and Appointment here as sent
(for ``GET`` and search); the appointment itself lives in ``service.appointments``. A
scheduler key sees only what it stored, like its appointments.

``OneTransaction`` lets a whole request (an Appointment and its row here, or a
transaction Bundle) be one database transaction although the appointment store commits
step by step: its commits are flushes, and a lost race aborts the whole request with 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.errors import FieldError, Problem
from service.models import Appointment, FhirIdentifier, FhirResource, Role
from service.security import Caller


class OneTransaction(Session):
    """A session whose ``commit`` only flushes; ``finish`` commits for real.

    ``rollback`` means a compare-and-set lost to a racing request: the whole request is
    refused (409, retry) rather than half-applied.
    """

    def commit(self) -> None:
        self.flush()

    def rollback(self) -> None:
        Session.rollback(self)
        raise Problem(
            409,
            "Busy",
            "Another update of the same resources arrived at the same time; retry shortly.",
            slug="fhir-busy",
            headers={"Retry-After": "1"},
        )

    def finish(self) -> None:
        Session.commit(self)

    def abandon(self) -> None:
        Session.rollback(self)


@dataclass(frozen=True)
class SourceOrder:
    """Where a resource stands in its sender's updates: ``meta.versionId`` when it is a
    number, else ``meta.lastUpdated``."""

    version: int | None
    updated_at: datetime | None


def visible(row: FhirResource, caller: Caller) -> bool:
    return caller.role != Role.SCHEDULER or row.owner_key_id == caller.id


def find_resource(
    session: Session, caller: Caller, resource_type: str, resource_id: str
) -> FhirResource | None:
    """The stored resource, or None when there is none or it is not the caller's to see."""
    row = session.get(FhirResource, (resource_type, resource_id))
    return row if row is not None and visible(row, caller) else None


def check_order(row: FhirResource, order: SourceOrder, same: bool) -> bool:
    """Whether ``order`` is newer than the stored one (False: the same); 409 when older."""
    path = f"{row.resource_type}.meta"
    kept: Any
    incoming: Any
    if row.source_version is not None and order.version is not None:
        kept, incoming, path = row.source_version, order.version, path + ".versionId"
    elif row.source_updated_at is not None and order.updated_at is not None:
        kept, incoming, path = row.source_updated_at, order.updated_at, path + ".lastUpdated"
    else:
        return True
    if incoming < kept or (incoming == kept and not same):
        raise Problem(
            409,
            "Older update",
            "This resource is older than the one stored (or as old with other content).",
            slug="older-update",
            errors=[FieldError(path, "is older than the one stored")],
        )
    return bool(incoming > kept)


def save_resource(
    session: Session,
    caller: Caller,
    body: dict[str, Any],
    order: SourceOrder,
    identifiers: Iterable[tuple[str, str]],
    now: datetime,
    *,
    appointment_id: str | None = None,
    patient_id: str | None = None,
) -> FhirResource:
    """Insert or overwrite the resource and its identifiers (not committed)."""
    key = (str(body["resourceType"]), str(body["id"]))
    row = session.get(FhirResource, key)
    if row is None:
        row = FhirResource(
            resource_type=key[0], resource_id=key[1], owner_key_id=caller.id, created_at=now
        )
        session.add(row)
    row.body = body
    row.source_version = order.version
    row.source_updated_at = order.updated_at
    row.appointment_id = appointment_id
    row.patient_id = patient_id
    row.updated_at = now
    session.flush()
    session.execute(
        delete(FhirIdentifier).where(
            FhirIdentifier.resource_type == key[0], FhirIdentifier.resource_id == key[1]
        )
    )
    for system, value in set(identifiers):
        session.add(
            FhirIdentifier(resource_type=key[0], resource_id=key[1], system=system, value=value)
        )
    return row


@dataclass(frozen=True)
class AppointmentSearch:
    identifier: tuple[str | None, str] | None = None
    """(system or None for any, value)."""
    patient_id: str | None = None
    status: str | None = None
    """Ours (``AppointmentStatus``), as the appointment stands now."""
    start_from: datetime | None = None
    start_until: datetime | None = None
    """Exclusive."""


def search_appointments(
    session: Session,
    caller: Caller,
    search: AppointmentSearch,
    *,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[tuple[FhirResource, datetime]]:
    """Stored FHIR Appointments matching every given parameter, with their start, by
    start and id; after the (start, id) of ``after`` (the last of the previous page)."""
    query = (
        select(FhirResource, Appointment.start)
        .join(Appointment, Appointment.id == FhirResource.appointment_id)
        .where(FhirResource.resource_type == "Appointment")
        .order_by(Appointment.start, FhirResource.resource_id)
    )
    if caller.role == Role.SCHEDULER:
        query = query.where(FhirResource.owner_key_id == caller.id)
    if search.patient_id is not None:
        query = query.where(FhirResource.patient_id == search.patient_id)
    if search.status is not None:
        query = query.where(Appointment.status == search.status)
    if search.start_from is not None:
        query = query.where(Appointment.start >= search.start_from)
    if search.start_until is not None:
        query = query.where(Appointment.start < search.start_until)
    if search.identifier is not None:
        system, value = search.identifier
        matching = select(FhirIdentifier.resource_id).where(
            FhirIdentifier.resource_type == "Appointment", FhirIdentifier.value == value
        )
        if system is not None:
            matching = matching.where(FhirIdentifier.system == system)
        query = query.where(FhirResource.resource_id.in_(matching))
    if after is not None:
        start, last_id = after
        query = query.where(
            (Appointment.start > start)
            | ((Appointment.start == start) & (FhirResource.resource_id > last_id))
        )
    rows = session.execute(query.limit(limit) if limit is not None else query)
    return [(row, start) for row, start in rows]


def appointments_of_patient(
    session: Session, caller: Caller, patient_id: str
) -> list[FhirResource]:
    """The stored FHIR Appointments of this Patient the caller may see, with a visit."""
    query = select(FhirResource).where(
        FhirResource.resource_type == "Appointment",
        FhirResource.patient_id == patient_id,
        FhirResource.appointment_id.is_not(None),
    )
    return [
        row
        for row in session.scalars(query.order_by(FhirResource.resource_id))
        if visible(row, caller)
    ]


def erase_for_appointments(session: Session, appointment_ids: Iterable[str]) -> int:
    """Erasure (``workers.erasure``): the FHIR Appointments of these appointments keep
    what the visit was (id, meta, status, start, end, the non-patient references) and lose
    every name; the Patients they name are deleted. Returns the Patients deleted."""
    rows = list(
        session.scalars(
            select(FhirResource).where(
                FhirResource.resource_type == "Appointment",
                FhirResource.appointment_id.in_(list(appointment_ids)),
            )
        )
    )
    patients = {row.patient_id for row in rows if row.patient_id}
    for row in rows:
        row.body = _appointment_tombstone(row.body)
        row.patient_id = None
    for patient_id in sorted(patients):
        session.execute(
            delete(FhirIdentifier).where(
                FhirIdentifier.resource_type == "Patient", FhirIdentifier.resource_id == patient_id
            )
        )
        session.execute(
            delete(FhirResource).where(
                FhirResource.resource_type == "Patient", FhirResource.resource_id == patient_id
            )
        )
    return len(patients)


def _appointment_tombstone(body: dict[str, Any]) -> dict[str, Any]:
    names = ("resourceType", "id", "meta", "start", "end")
    kept: dict[str, Any] = {name: body[name] for name in names if name in body}
    status = body.get("status")
    kept["status"] = "cancelled" if status in {"booked", "arrived", "checked-in"} else status
    participants = []
    for participant in body.get("participant") or []:
        reference = (participant.get("actor") or {}).get("reference") or ""
        entry: dict[str, Any] = {"status": participant.get("status") or "accepted"}
        if reference and reference.split("/")[-2:-1] != ["Patient"]:
            entry["actor"] = {"reference": reference}
        participants.append(entry)
    kept["participant"] = participants
    return kept
