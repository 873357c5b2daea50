"""Erasing one patient's data on request (a right-to-erasure or data-subject request).

A patient is found by phone number (inside each reminder's stored facts) or by the
scheduler's ``external_id``. Their reminders keep what says what happened (id, status,
kind, language, times, events), so the service's own record stays whole; everything about
the patient goes:

- a reminder still on its way is stopped first, so an erased patient is never called:
  one not yet dispatching is cancelled, one between calls (dispatching) is failed;
- the facts are replaced by a tombstone that keeps only the patient's time zone and the
  clinic block (the clinic's, not the patient's); the message text and ``external_id``
  are cleared;
- audio files only erased reminders use are deleted and their records marked purged (so
  links answer 410), with the speech cache's phrases and sentences they were made from
  (``voices.speaker.cached_files``); a file another patient's reminder also uses stays,
  as the cache is content-addressed and that patient still needs it. A Speaker holding
  a deleted phrase in memory, in any process, lets go of it when next asked for it and
  within ``voices.speaker.MEMORY_RECHECK_S`` of speaking anything;
- attempts keep channel, times, outcome and duration; the keys the patient pressed
  (``digits``), the words Twilio heard (``speech_result``) and the provider's call id
  (``provider_ref``, which opens the provider's own record of the call and the number)
  are cleared; the local outbox's copy is deleted;
- status webhooks (sent or pending) lose the ``external_id``; pending ones are still sent;
- appointments of the patient (by the phone in their patient block, by their
  ``external_id``, or as the visit an erased reminder was planned for) keep the clinic,
  the source's id, the start and the status, cancelled if still booked, so nothing is
  planned for them again; the patient block keeps only language, time zone and speech
  rate, and the provider, location and instructions are cleared;
- FHIR Appointments stored for those appointments keep the visit and lose every name
  (``service.fhir_store.erase_for_appointments``), and the FHIR Patients they name are
  deleted;
- the staff's actions on those reminders and appointments (the worklist's) keep who did
  what and when; their notes, a staff member's own words that may name the patient, are
  cleared.

The phone number is looked up with a portable JSON path query (SQLite and PostgreSQL),
not an indexed copy: an erasure is rare, and a scan of one column beats keeping another
derivative of every patient's number.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.audio_store import AudioStore
from service.config import Settings
from service.fhir_store import erase_for_appointments
from service.models import (
    CANCELLABLE,
    REMINDER_AUDIO,
    Appointment,
    AppointmentStatus,
    Attempt,
    AudioAsset,
    Reminder,
    StaffAction,
    Status,
    WebhookDelivery,
    advance,
)
from service.worklist import APPOINTMENT, REMINDER
from voices import cached_files
from workers.channels.outbox import OutboxChannel

PATIENT_REF_PURPOSE = "patient ref"
"""Keys the hash that names an erased patient in the audit log."""
ERASED_DETAIL = "stopped: the patient's data was erased"
KEPT_PATIENT_FIELDS = ("timezone",)
"""What a tombstone keeps of the patient block: enough to read times, nothing identifying."""
KEPT_APPOINTMENT_PATIENT_FIELDS = ("timezone", "language", "speech_rate")
"""What an erased appointment keeps of its patient: what its answer and page must show."""


@dataclass(frozen=True)
class Erasure:
    """What one erasure did; the audio and files are deleted once the changes are committed.

    ``audio`` is what the audio store deletes (content key, format); ``audio_files`` are
    this machine's speech-cache copies of it (the store's own files with ``local``).
    """

    reminders: int
    stopped: int
    attempts: int
    appointments: int = 0
    audio: tuple[tuple[str, str], ...] = field(default=())
    audio_files: tuple[Path, ...] = field(default=())
    outbox_files: tuple[Path, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        return {
            "reminders": self.reminders,
            "stopped": self.stopped,
            "audio_files": len(self.audio),
            "attempts": self.attempts,
            "appointments": self.appointments,
        }

    def remove_files(self, store: AudioStore) -> None:
        """Delete the audio and files, with the cached phrases and sentences each message
        was made from (its greeting says the patient's name); what a crash here leaves,
        the daily purge removes."""
        cached = [file for path in self.audio_files for file in cached_files(path)]
        for key, fmt in self.audio:
            store.delete(key, fmt)
        for path in cached + list(self.outbox_files):
            path.unlink(missing_ok=True)


def patient_ref(settings: Settings, *, phone: str | None, external_id: str | None) -> str:
    """A keyed hash naming the patient in the audit log: comparable, never reversible."""
    value = f"phone:{phone}" if phone is not None else f"external_id:{external_id}"
    key = settings.derived_secret(PATIENT_REF_PURPOSE)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def patient_appointments(
    session: Session, *, phone: str | None, external_id: str | None
) -> list[Appointment]:
    """Every appointment, of every clinic, for this phone number or external id."""
    if phone is not None:
        match = Appointment.patient[("phone",)].as_string() == phone
    else:
        match = Appointment.external_id == external_id
    return list(session.scalars(select(Appointment).where(match).order_by(Appointment.id)))


def patient_reminders(
    session: Session,
    *,
    phone: str | None,
    external_id: str | None,
    appointment_ids: Sequence[str] = (),
) -> list[Reminder]:
    """Every reminder, of every scheduler, for this phone number or external id, and every
    reminder planned for ``appointment_ids`` (an app-only patient's carry no phone)."""
    if phone is not None:
        match = Reminder.facts[("patient", "phone")].as_string() == phone
    else:
        match = Reminder.external_id == external_id
    if appointment_ids:
        match = or_(match, Reminder.appointment_id.in_(appointment_ids))
    return list(session.scalars(select(Reminder).where(match).order_by(Reminder.id)))


def erase_patient(
    session: Session,
    settings: Settings,
    now: datetime,
    *,
    phone: str | None = None,
    external_id: str | None = None,
) -> Erasure:
    """Erase in ``session`` (the caller commits, then calls ``remove_files``)."""
    appointments = patient_appointments(session, phone=phone, external_id=external_id)
    reminders = patient_reminders(
        session,
        phone=phone,
        external_id=external_id,
        appointment_ids=[appointment.id for appointment in appointments],
    )
    planned_for = {r.appointment_id for r in reminders} - {a.id for a in appointments}
    if planned_for := {appointment_id for appointment_id in planned_for if appointment_id}:
        appointments += session.scalars(
            select(Appointment).where(Appointment.id.in_(sorted(planned_for)))
        )
    _clear_staff_notes(session, [r.id for r in reminders], [a.id for a in appointments])
    appointments = [a for a in appointments if "erased_at" not in a.patient]
    for appointment in appointments:
        _erase_appointment(appointment, now)
    erase_for_appointments(session, [appointment.id for appointment in appointments])
    ids = [reminder.id for reminder in reminders]
    stopped = sum(_stop(session, reminder_id) for reminder_id in ids)
    used_audio = {
        (key, fmt)
        for reminder in reminders
        for key, fmt in (
            (getattr(reminder, key_column.key), getattr(reminder, format_column.key))
            for key_column, format_column in REMINDER_AUDIO
        )
        if key and fmt
    }
    for reminder in reminders:
        reminder.facts = _tombstone(reminder.facts, now)
        reminder.message_text = reminder.app_message_text = None
        reminder.external_id = None
        for key_column, format_column in REMINDER_AUDIO:
            setattr(reminder, key_column.key, None)
            setattr(reminder, format_column.key, None)
    session.flush()
    attempt_ids = list(session.scalars(select(Attempt.id).where(Attempt.reminder_id.in_(ids))))
    session.execute(
        update(Attempt)
        .where(Attempt.reminder_id.in_(ids))
        .values(digits=None, speech_result=None, provider_ref=None)
        .execution_options(synchronize_session="fetch")
    )
    for delivery in session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.reminder_id.in_(ids))
    ):
        delivery.payload = _without_external_id(delivery.payload)
    outbox = OutboxChannel(settings.outbox_dir)
    outbox_files = [outbox.record_path(attempt_id) for attempt_id in attempt_ids]
    released = [
        (key, fmt, Path(path))
        for key, fmt in sorted(used_audio)
        if (path := _release(session, key, fmt, now))
    ]
    return Erasure(
        reminders=len(ids),
        stopped=stopped,
        attempts=len(attempt_ids),
        appointments=len(appointments),
        audio=tuple((key, fmt) for key, fmt, _ in released),
        audio_files=tuple(path for _, _, path in released),
        outbox_files=tuple(path for path in outbox_files if path.exists()),
    )


def _clear_staff_notes(
    session: Session, reminder_ids: Sequence[str], appointment_ids: Sequence[str]
) -> None:
    session.execute(
        update(StaffAction)
        .where(
            or_(
                (StaffAction.subject_type == REMINDER)
                & StaffAction.subject_id.in_(list(reminder_ids)),
                (StaffAction.subject_type == APPOINTMENT)
                & StaffAction.subject_id.in_(list(appointment_ids)),
            ),
            StaffAction.note.is_not(None),
        )
        .values(note=None)
        .execution_options(synchronize_session=False)
    )


def _stop(session: Session, reminder_id: str) -> bool:
    """Cancel a reminder not yet dispatching, or fail one between calls; True if stopped."""
    if advance(
        session,
        reminder_id,
        Status.CANCELLED,
        expect=CANCELLABLE,
        detail=ERASED_DETAIL,
        lease_until=None,
    ):
        return True
    return advance(
        session,
        reminder_id,
        Status.FAILED,
        expect=Status.DISPATCHING,
        detail=ERASED_DETAIL,
        lease_until=None,
    )


def _erased_patient(
    patient: dict[str, Any], kept_fields: Sequence[str], now: datetime
) -> dict[str, Any]:
    kept = {name: patient[name] for name in kept_fields if name in patient}
    return {**kept, "erased_at": now.isoformat()}


def _tombstone(facts: dict[str, Any], now: datetime) -> dict[str, Any]:
    patient = facts.get("patient") or {}
    tombstone: dict[str, Any] = {"patient": _erased_patient(patient, KEPT_PATIENT_FIELDS, now)}
    if "clinic" in facts:
        tombstone["clinic"] = facts["clinic"]
    return tombstone


def _erase_appointment(appointment: Appointment, now: datetime) -> None:
    """Keep what the visit was, not whose; a booked one is cancelled, so it is never
    planned again. The revision moves on, so a re-plan racing with this one loses."""
    appointment.patient = _erased_patient(appointment.patient, KEPT_APPOINTMENT_PATIENT_FIELDS, now)
    appointment.provider = appointment.location = appointment.instructions = None
    if appointment.status == AppointmentStatus.BOOKED:
        appointment.status = AppointmentStatus.CANCELLED
    appointment.revision += 1
    appointment.updated_at = now


def _without_external_id(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("external_id") is None:
        return payload
    return {**payload, "data": {**data, "external_id": None}}


def _release(session: Session, key: str, fmt: str, now: datetime) -> str | None:
    """Mark an audio record purged unless a remaining reminder uses it; its file path."""
    still_used = session.scalar(
        select(Reminder.id)
        .where(
            or_(
                *(
                    (key_column == key) & (format_column == fmt)
                    for key_column, format_column in REMINDER_AUDIO
                )
            )
        )
        .limit(1)
    )
    asset = session.get(AudioAsset, (key, fmt))
    if still_used is not None or asset is None or asset.purged_at is not None:
        return None
    asset.purged_at = now
    return asset.path
