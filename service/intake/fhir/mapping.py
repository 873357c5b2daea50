"""FHIR Patient + Appointment -> the appointment store's ``AppointmentRequest``.

What is read (docs/fhir.md):

- Patient: the name (``text``, else prefix + given + family of the official or usual name);
  the phone to call from ``telecom`` (system phone or sms; mobile, then home, then a
  number with no use; never work, old or temp), read with the clinic's country;
  ``communication`` (preferred first) through ``service.intake.language``.
- Appointment: ``status`` (booked, arrived, checked-in -> booked; cancelled,
  entered-in-error -> cancelled; noshow; fulfilled), ``start``, ``patientInstruction``;
  participants: the Patient, a Practitioner (the provider's name) and a Location (where).
- The clinic: the Location participant (or an Organization that manages it, inside a
  Bundle), matched on its id, its identifiers (``value`` or ``system|value``) or the
  reference's own ``identifier`` against a clinic's id or ``Clinic.identifiers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import FieldError, Problem, ValidationProblem
from service.fhir_store import SourceOrder
from service.intake.language import read_language
from service.models import AppointmentStatus, Clinic
from service.schemas import AppointmentPatient, AppointmentRequest

FHIR_STATUSES: dict[str, AppointmentStatus] = {
    "booked": AppointmentStatus.BOOKED,
    "arrived": AppointmentStatus.BOOKED,
    "checked-in": AppointmentStatus.BOOKED,
    "cancelled": AppointmentStatus.CANCELLED,
    "entered-in-error": AppointmentStatus.CANCELLED,
    "noshow": AppointmentStatus.NOSHOW,
    "fulfilled": AppointmentStatus.FULFILLED,
}
"""The Appointment statuses taken; proposed, pending and waitlist have no time to remind of."""
PHONE_USE_RANK = {"mobile": 0, "home": 1, None: 2}
"""Which number to call first; work, old and temp numbers are never called."""
Resources = Mapping[str, dict[str, Any]]
"""Resources known by reference ("Location/1"): a Bundle's entries."""


def reference_key(reference: str) -> tuple[str, str] | None:
    """("Patient", "x") from "Patient/x" or an absolute ".../Patient/x"; None otherwise."""
    parts = reference.rstrip("/").split("/")
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def source_order(resource: dict[str, Any], resource_type: str) -> SourceOrder:
    """The sender's ordering; one of ``meta.versionId`` (a number) or ``meta.lastUpdated``
    is required so an older update never overwrites a newer one."""
    meta = resource.get("meta") or {}
    version = str(meta.get("versionId") or "")
    updated = meta.get("lastUpdated")
    moment = datetime.fromisoformat(updated.replace("Z", "+00:00")) if updated else None
    if version.isdigit():
        return SourceOrder(int(version), None)
    if moment is not None:
        return SourceOrder(None, moment)
    raise ValidationProblem(
        [
            FieldError(
                f"{resource_type}.meta",
                "needs versionId (a number) or lastUpdated, so an older update never wins",
            )
        ]
    )


def identifiers_of(resource: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for identifier in resource.get("identifier") or []:
        if identifier.get("value"):
            found.append((identifier.get("system") or "", str(identifier["value"])))
    return found


def patient_name(patient: dict[str, Any]) -> str | None:
    names = patient.get("name") or []
    names = sorted(names, key=lambda n: {"official": 0, "usual": 1}.get(n.get("use"), 2))
    for name in names:
        if name.get("text"):
            return str(name["text"])
        words = [*(name.get("prefix") or []), *(name.get("given") or []), name.get("family") or ""]
        text = " ".join(w for w in words if w)
        if text:
            return text
    return None


def patient_phone(patient: dict[str, Any], country: str) -> str | None:
    """The number to call in E.164, or None when none is usable."""
    ranked = []
    for index, telecom in enumerate(patient.get("telecom") or []):
        use = telecom.get("use")
        if telecom.get("system") not in {"phone", "sms"} or use not in PHONE_USE_RANK:
            continue
        if (telecom.get("period") or {}).get("end"):
            continue
        try:
            number = phonenumbers.parse(str(telecom.get("value") or ""), country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            ranked.append((PHONE_USE_RANK[use], telecom.get("rank") or 99, index, e164))
    return min(ranked)[3] if ranked else None


def patient_language(patient: dict[str, Any], offered: Iterable[str]) -> str | None:
    """Our code for the patient's language; None when none is given (the clinic's default
    applies); a 422 naming the element when it is given but not one we can speak."""
    communications = sorted(
        patient.get("communication") or [], key=lambda c: not c.get("preferred", False)
    )
    for index, communication in enumerate(communications):
        concept = communication.get("language") or {}
        candidates = [c.get("code") or "" for c in concept.get("coding") or []]
        candidates += [c.get("display") or "" for c in concept.get("coding") or []]
        candidates.append(concept.get("text") or "")
        reading = read_language(candidates, set(offered))
        if reading.code is not None:
            return reading.code
        if index == len(communications) - 1:
            raise ValidationProblem([FieldError("Patient.communication.language", reading.reason)])
    return None


@dataclass(frozen=True)
class Participants:
    patient_id: str
    provider: str | None = None
    location: str | None = None
    clinic_names: list[str] = field(default_factory=list)
    """Every name the clinic may go by, most specific first."""


def _display_name(resource: dict[str, Any] | None, reference: dict[str, Any]) -> str | None:
    if resource is not None:
        if isinstance(resource.get("name"), str):
            return str(resource["name"])
        name = patient_name(resource)
        if name:
            return name
    return reference.get("display")


def _names_of(resource: dict[str, Any] | None, key: tuple[str, str] | None) -> list[str]:
    names = []
    if key is not None:
        names += [f"{key[0]}/{key[1]}", key[1]]
    for system, value in identifiers_of(resource or {}):
        names += [f"{system}|{value}", value] if system else [value]
    return names


def participants(appointment: dict[str, Any], known: Resources) -> Participants:
    patient_id = None
    provider = location = None
    clinic_names: list[str] = []
    for index, participant in enumerate(appointment.get("participant") or []):
        actor = participant.get("actor") or {}
        key = reference_key(actor.get("reference") or "")
        kind = key[0] if key else (actor.get("type") or "")
        resource = known.get(f"{key[0]}/{key[1]}") if key else None
        if kind == "Patient":
            if key is None:
                raise ValidationProblem(
                    [FieldError(f"Appointment.participant[{index}].actor.reference", "is required")]
                )
            patient_id = key[1]
        elif kind in {"Practitioner", "PractitionerRole"}:
            provider = provider or _display_name(resource, actor)
        elif kind in {"Location", "HealthcareService"}:
            location = location or _display_name(resource, actor)
            clinic_names += _names_of(resource, key)
            own = actor.get("identifier") or {}
            if own.get("value"):
                clinic_names += _names_of({"identifier": [own]}, None)
            managing = (resource or {}).get("managingOrganization") or (resource or {}).get(
                "providedBy"
            )
            if managing:
                org_key = reference_key(managing.get("reference") or "")
                org = known.get(f"{org_key[0]}/{org_key[1]}") if org_key else None
                clinic_names += _names_of(org, org_key)
    if patient_id is None:
        raise ValidationProblem(
            [FieldError("Appointment.participant", "needs an actor that is a Patient")]
        )
    return Participants(patient_id, provider, location, clinic_names)


def find_clinic_named(session: Session, names: list[str]) -> Clinic:
    """The clinic whose id or one of whose identifiers is among ``names`` (first wins)."""
    clinics = list(session.scalars(select(Clinic).where(Clinic.deleted_at.is_(None))))
    for name in names:
        for clinic in clinics:
            if name == clinic.id or name in (clinic.identifiers or []):
                return clinic
    raise ValidationProblem(
        [
            FieldError(
                "Appointment.participant",
                "names no clinic we know: a Location participant's id or identifier must "
                "match a clinic's id or identifiers",
            )
        ]
    )


def appointment_request(
    appointment: dict[str, Any],
    patient: dict[str, Any],
    clinic: Clinic,
    found: Participants,
    offered: Iterable[str],
) -> AppointmentRequest:
    """The appointment store's request for this Appointment and its Patient."""
    errors: list[FieldError] = []
    status = FHIR_STATUSES.get(str(appointment.get("status")))
    if status is None:
        taken = ", ".join(FHIR_STATUSES)
        errors.append(FieldError("Appointment.status", f"must be one of: {taken}"))
    if not appointment.get("start"):
        errors.append(FieldError("Appointment.start", "is required"))
    name = patient_name(patient)
    if name is None:
        errors.append(FieldError("Patient.name", "is required (text, or given and family)"))
    if errors:
        raise ValidationProblem(errors)
    order = source_order(appointment, "Appointment")
    language = patient_language(patient, offered)
    try:
        return AppointmentRequest(
            patient=AppointmentPatient(
                name=name or "",
                phone=patient_phone(patient, clinic.country),
                language=language,
            ),
            start=appointment["start"],
            status=status or AppointmentStatus.BOOKED,
            provider=found.provider,
            location=found.location,
            instructions=appointment.get("patientInstruction"),
            version=order.version,
            updated_at=order.updated_at,
        )
    except ValidationError as err:
        raise ValidationProblem(
            [FieldError(".".join(map(str, e["loc"])), e["msg"]) for e in err.errors()]
        ) from err


def not_found(resource_type: str) -> Problem:
    return Problem(404, "Not found", f"No {resource_type} with this id.", slug="not-found")
