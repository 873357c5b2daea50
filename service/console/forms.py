"""The preview form: flat fields a person fills in, turned into the API's ``PreviewRequest``.

Errors come back keyed by form field, so each one is shown beside (and announced with)
the input it is about. The checks themselves stay where the API has them: the pydantic
schema and ``service.reminders.check_message``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from service.db import utcnow
from service.errors import ValidationProblem, validation_problem_from
from service.schemas import APPOINTMENT_KINDS, PreviewRequest
from templates import KINDS, sample_facts

LOCAL_MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
"""What ``<input type="datetime-local">`` sends and shows."""

FORM_FIELD_FOR = {
    "patient.name": "patient_name",
    "patient.timezone": "timezone",
    "patient.speech_rate": "speech_rate",
    "patient.sentence_pause": "sentence_pause",
    "patient.repeat_message": "repeat_message",
    "patient.offer_repeat_twice": "offer_repeat_twice",
    "clinic.id": "clinic",
    "clinic.name": "clinic_name",
    "clinic.callback_phone": "callback_phone",
    "appointment": "appointment_start",
    "appointment.start": "appointment_start",
    "appointment.previous_start": "previous_start",
    "appointment.provider": "provider",
    "appointment.location": "location",
    "appointment.instructions": "instructions",
    "result": "ordered_by",
    "result.ordered_by": "ordered_by",
    "follow_up": "follow_up_question",
    "follow_up.question": "follow_up_question",
}
"""API field path -> form field, for the paths whose names differ."""
YES_NO = {"yes": True, "no": False}
"""A yes/no select's value as the API's boolean; anything else is passed on to be refused."""


class PreviewForm(BaseModel):
    """Every preview input as the browser posts it (strings; empty means not given)."""

    kind: str = "appointment_reminder"
    language: str = "en"
    variant: str = "call"
    speech_rate: str = "normal"
    sentence_pause: str = "normal"
    repeat_message: str = "no"
    offer_repeat_twice: str = "no"
    """The accessibility profile's yes/no choices, as their select sends them."""
    clinic: str = ""
    """A clinic record's id: its facts and words are used. Empty: the clinic typed inline."""
    patient_name: str = ""
    timezone: str = ""
    clinic_name: str = ""
    callback_phone: str = ""
    appointment_start: str = ""
    previous_start: str = ""
    provider: str = ""
    location: str = ""
    instructions: str = ""
    ordered_by: str = ""
    follow_up_question: str = ""
    """follow_up: the question to hear; empty: the clinic's (or the default)."""

    def request_body(self) -> dict[str, Any]:
        """The JSON body ``POST /v1/previews`` would get for these inputs."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "channel": "app" if self.variant == "app" else "phone",
            "language": self.language,
            "variant": self.variant,
            "patient": {
                "name": self.patient_name,
                "timezone": self.timezone,
                "speech_rate": self.speech_rate,
                "sentence_pause": self.sentence_pause,
                "repeat_message": YES_NO.get(self.repeat_message, self.repeat_message),
                "offer_repeat_twice": YES_NO.get(self.offer_repeat_twice, self.offer_repeat_twice),
            },
            "clinic": {"id": self.clinic}
            if self.clinic
            else {"name": self.clinic_name, "callback_phone": self.callback_phone},
        }
        if self.kind in APPOINTMENT_KINDS:
            body["appointment"] = {
                "start": self._aware(self.appointment_start),
                "provider": self.provider or None,
                "location": self.location or None,
                "instructions": self.instructions or None,
            }
            if self.kind == "appointment_changed" and self.previous_start:
                body["appointment"]["previous_start"] = self._aware(self.previous_start)
        elif self.kind == "result_ready":
            body["result"] = {"ordered_by": self.ordered_by or None}
        elif self.kind == "follow_up" and self.follow_up_question:
            body["follow_up"] = {"question": self.follow_up_question}
        return body

    def _aware(self, local_minute: str) -> str:
        """A local time in the patient's zone; left as typed if it or the zone is bad."""
        try:
            local = datetime.strptime(local_minute, LOCAL_MINUTE_FORMAT)
            return local.replace(tzinfo=ZoneInfo(self.timezone)).isoformat()
        except (ValueError, ZoneInfoNotFoundError):
            return local_minute

    def parse(self, wording_version: int | None = None) -> PreviewRequest:
        """The validated request; raises ``ValidationProblem`` naming form fields."""
        body = self.request_body()
        if wording_version is not None:
            body["wording_version"] = wording_version
        try:
            return PreviewRequest.model_validate(body)
        except ValidationError as err:
            raise validation_problem_from(err.errors()) from err


def field_errors(problem: ValidationProblem) -> dict[str, str]:
    """Form field -> message, the first message per field."""
    errors: dict[str, str] = {}
    for error in problem.errors:
        errors.setdefault(FORM_FIELD_FOR.get(error.field, error.field), error.message)
    return errors


def sample_form(current: PreviewForm) -> PreviewForm:
    """``current`` with the facts replaced by ``templates.samples`` sample data.

    The sample appointment is a fixed date; once it has passed it and its previous time are
    moved on by the same whole weeks, so they keep their weekday and time and the preview is
    still accepted.
    """
    kind = current.kind if current.kind in KINDS else KINDS[0]
    facts = sample_facts(kind, current.language)
    shift = timedelta()
    if facts.appointment_start is not None:
        while facts.appointment_start + shift <= utcnow():
            shift += timedelta(weeks=1)

    def local(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return (moment + shift).astimezone(ZoneInfo(facts.timezone)).strftime(LOCAL_MINUTE_FORMAT)

    return current.model_copy(
        update={
            "kind": kind,
            "patient_name": facts.patient_name,
            "timezone": facts.timezone,
            "clinic_name": facts.clinic_name,
            "callback_phone": facts.clinic_phone,
            "appointment_start": local(facts.appointment_start),
            "previous_start": local(facts.previous_start),
            "provider": facts.provider or "",
            "location": facts.location or "",
            "instructions": facts.instructions or "",
            "ordered_by": facts.ordered_by or "",
        }
    )
