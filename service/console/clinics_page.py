"""The console's clinic pages: staff (and reviewers) read a clinic's settings, admins edit.

The form is plain fields, no script: the reminder schedule is one row per offset (kind,
amount, time, and a Remove box), with one blank row to add another; "Add a reminder row" shows
one more without saving. The escalation policy is one row per step (what, and the wait
before it), with one blank row; a step set to "No step" is dropped. The checks are the
API's (``schemas.ClinicCreate`` and ``service.clinics``); their errors come back keyed by
form field, shown beside the input.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from service.clinics import (
    clinic_settings,
    create_clinic,
    delete_clinic,
    get_clinic,
    list_clinics,
    update_clinic,
)
from service.console.routes import (
    FOLLOW_UP_OPTIONS,
    RATE_OPTIONS,
    CheckedVisit,
    ConsoleRefusal,
    StaffVisit,
    Visit,
    caller_of,
)
from service.deps import ServicesDep, SessionDep
from service.errors import Problem, ValidationProblem, validation_problem_from
from service.follow_ups import WEEKS_DEFAULT, weekly_counts
from service.models import Clinic, Role
from service.schemas import DEFAULT_CALLING_HOURS, DEFAULT_SCHEDULE, ClinicCreate, ClinicPatch
from service.security import Caller

router = APIRouter(prefix="/console", include_in_schema=False)

CHANNEL_OPTIONS = [("phone", "Phone call"), ("app", "App")]
SECOND_CHANNEL_OPTIONS = [("", "None"), *CHANNEL_OPTIONS]
UNIT_OPTIONS = [("", "No reminder"), ("days", "Days before, at a time"), ("hours", "Hours before")]
STEP_OPTIONS = [
    ("", "No step"),
    ("phone", "Call again"),
    ("app", "Send to the app"),
    ("sms", "Text the listen link"),
    ("staff", "Hand to the staff"),
]
VOICEMAIL_OPTIONS = [
    ("stop", "Stop: a voicemail is enough"),
    ("continue", "Go on to the next step"),
]
SCHEDULE_FIELD = "schedule.appointment_reminder"
STEPS_FIELD = "escalation.steps"
FORM_FIELD_FOR = {
    "calling_hours": "hours_start",
    "calling_hours.start": "hours_start",
    "calling_hours.end": "hours_end",
    "channels": "channel_1",
    "channels.0": "channel_1",
    "channels.1": "channel_2",
    "require_reviewed_wording": "require_reviewed_wording",
    "hl7_notes_as_instructions": "hl7_notes_as_instructions",
    "refuse_other_language_text": "refuse_other_language_text",
    SCHEDULE_FIELD: "offset_unit_0",
    STEPS_FIELD: "step_channel_0",
    "escalation": "step_channel_0",
    "escalation.on_voicemail": "on_voicemail",
}
"""API field path -> form field, for the paths whose names differ (rows: ``_row_field``)."""


class ClinicForm(BaseModel):
    """Every clinic input as the browser posts it (strings; empty means not given).

    The schedule's rows come as repeated fields, in the order shown; ``offset_remove``
    holds the numbers of the rows ticked for removal.
    """

    id: str = ""
    display_name: str = ""
    spoken_name: str = ""
    callback_phone: str = ""
    caller_id: str = ""
    timezone: str = ""
    country: str = ""
    hours_start: str = DEFAULT_CALLING_HOURS["start"]
    hours_end: str = DEFAULT_CALLING_HOURS["end"]
    default_language: str = "en"
    default_speech_rate: str = "normal"
    channel_1: str = "phone"
    channel_2: str = ""
    identifiers: str = ""
    require_reviewed_wording: str = ""
    hl7_notes_as_instructions: str = ""
    refuse_other_language_text: str = ""
    offset_unit: list[str] = []
    offset_amount: list[str] = []
    offset_at: list[str] = []
    offset_remove: list[str] = []
    step_channel: list[str] = []
    step_wait: list[str] = []
    on_voicemail: str = "stop"
    follow_up_question: str = "visit_rating"

    @classmethod
    def blank(cls) -> ClinicForm:
        """A new clinic's form: the default settings and schedule."""
        return cls.model_validate(_schedule_fields(DEFAULT_SCHEDULE["appointment_reminder"]))

    @classmethod
    def of(cls, clinic: dict[str, Any]) -> ClinicForm:
        """The form showing a clinic's settings (``clinics.clinic_settings``)."""
        channels = clinic["channels"]
        return cls(
            id=clinic["id"],
            display_name=clinic["display_name"],
            spoken_name=clinic["spoken_name"] or "",
            callback_phone=clinic["callback_phone"],
            caller_id=clinic["caller_id"] or "",
            timezone=clinic["timezone"],
            country=clinic["country"],
            hours_start=clinic["calling_hours"]["start"],
            hours_end=clinic["calling_hours"]["end"],
            default_language=clinic["default_language"],
            default_speech_rate=clinic["default_speech_rate"],
            channel_1=channels[0],
            channel_2=channels[1] if len(channels) > 1 else "",
            identifiers="\n".join(clinic["identifiers"]),
            require_reviewed_wording="on" if clinic["require_reviewed_wording"] else "",
            hl7_notes_as_instructions="on" if clinic["hl7_notes_as_instructions"] else "",
            follow_up_question=clinic["follow_up_question"],
            refuse_other_language_text="on" if clinic["refuse_other_language_text"] else "",
            **_rows_of(clinic),
        )

    def steps(self) -> list[tuple[str, str]]:
        """The escalation rows kept: not left blank; (channel, wait in minutes)."""
        rows = zip(self.step_channel, self.step_wait, strict=False)
        return [(channel, wait.strip()) for channel, wait in rows if channel or wait.strip()]

    def rows(self) -> list[tuple[str, str, str]]:
        """The schedule rows kept: not removed, not left blank; (unit, amount, at)."""
        removed = set(self.offset_remove)
        rows = zip(self.offset_unit, self.offset_amount, self.offset_at, strict=False)
        return [
            (unit, amount.strip(), at.strip())
            for number, (unit, amount, at) in enumerate(rows)
            if str(number) not in removed and (unit or amount.strip())
        ]

    def with_rows(self, extra: int) -> ClinicForm:
        """The form as shown again: the rows kept, then ``extra`` blank rows to fill in."""
        kept = self.rows()
        return self.model_copy(
            update={
                "offset_unit": [unit for unit, _, _ in kept] + [""] * extra,
                "offset_amount": [amount for _, amount, _ in kept] + [""] * extra,
                "offset_at": [at for _, _, at in kept] + [""] * extra,
                "offset_remove": [],
                "step_channel": [channel for channel, _ in self.steps()] + [""],
                "step_wait": [wait for _, wait in self.steps()] + [""],
            }
        )

    def settings_body(self) -> dict[str, Any]:
        """The JSON a ``PATCH /v1/clinics/{id}`` with every setting would carry."""
        offsets: list[dict[str, Any]] = []
        for unit, amount, at in self.rows():
            count: int | str = int(amount) if amount.isdigit() else amount
            if unit == "hours":
                offsets.append({"hours_before": count})
            else:  # days, or no unit chosen: the check names what is missing
                offsets.append({"days_before": count, "at": at or None})
        return {
            "display_name": self.display_name,
            "spoken_name": self.spoken_name.strip() or None,
            "callback_phone": self.callback_phone,
            "caller_id": self.caller_id.strip() or None,
            "timezone": self.timezone,
            "country": self.country.strip().upper(),
            "calling_hours": {"start": self.hours_start, "end": self.hours_end},
            "default_language": self.default_language,
            "default_speech_rate": self.default_speech_rate,
            "channels": [c for c in (self.channel_1, self.channel_2) if c],
            "identifiers": [line.strip() for line in self.identifiers.splitlines() if line.strip()],
            "require_reviewed_wording": bool(self.require_reviewed_wording),
            "hl7_notes_as_instructions": bool(self.hl7_notes_as_instructions),
            "refuse_other_language_text": bool(self.refuse_other_language_text),
            "schedule": {"appointment_reminder": offsets},
            "escalation": self.escalation_body(),
            "follow_up_question": self.follow_up_question,
        }

    def escalation_body(self) -> dict[str, Any] | None:
        """The policy the rows make; None (no policy) when every row is blank."""
        steps = [
            {"channel": channel, "wait_minutes": int(wait) if wait.isdigit() else wait}
            for channel, wait in self.steps()
        ]
        if not steps:
            return None
        return {"steps": steps, "on_voicemail": self.on_voicemail}


def _rows_of(clinic: dict[str, Any]) -> dict[str, Any]:
    """The form's row fields: the schedule's offsets and the escalation's steps."""
    offsets = clinic["schedule"].get("appointment_reminder", [])
    return {**_schedule_fields(offsets), **_escalation_fields(clinic["escalation"])}


def _escalation_fields(policy: dict[str, Any] | None) -> dict[str, Any]:
    """A stored policy as the form's step rows."""
    steps = (policy or {}).get("steps", [])
    return {
        "step_channel": [step["channel"] for step in steps],
        "step_wait": [str(step["wait_minutes"]) for step in steps],
        "on_voicemail": (policy or {}).get("on_voicemail", "stop"),
    }


def _schedule_fields(offsets: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Stored offsets (``{"days_before": 3, "at": "10:00"}``) as the form's row fields."""
    return {
        "offset_unit": ["days" if "days_before" in row else "hours" for row in offsets],
        "offset_amount": [str(row.get("days_before", row.get("hours_before"))) for row in offsets],
        "offset_at": [row.get("at", "") for row in offsets],
    }


def _row_field(path: str) -> str | None:
    """``schedule.appointment_reminder.1.at`` -> ``offset_at_1``: the input of that row
    (``escalation.steps.0.wait_minutes`` -> ``step_wait_0``)."""
    if path.startswith(STEPS_FIELD + "."):
        number, _, leaf = path.removeprefix(STEPS_FIELD + ".").partition(".")
        return f"{'step_wait' if leaf == 'wait_minutes' else 'step_channel'}_{number}"
    if not path.startswith(SCHEDULE_FIELD + "."):
        return None
    number, _, leaf = path.removeprefix(SCHEDULE_FIELD + ".").partition(".")
    column = {"at": "offset_at", "days_before": "offset_amount", "hours_before": "offset_amount"}
    return f"{column.get(leaf, 'offset_unit')}_{number}"


def form_errors(problem: ValidationProblem) -> dict[str, str]:
    """Form field -> message, the first message per field."""
    errors: dict[str, str] = {}
    for error in problem.errors:
        field = _row_field(error.field) or FORM_FIELD_FOR.get(error.field, error.field)
        if field.startswith("identifiers"):
            field = "identifiers"
        errors.setdefault(field, error.message)
    return errors


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise validation_problem_from(err.errors()) from err


def _admin(visit: Visit) -> Caller:
    caller = caller_of(visit)
    if caller.role != Role.ADMIN:
        raise ConsoleRefusal(403, "Only an admin can change clinics. Please sign in as an admin.")
    return caller


def _form_context(services: ServicesDep, form: ClinicForm) -> dict[str, Any]:
    return {
        "form": form,
        "errors": {},
        "language_options": [
            (lang.voice.code, f"{lang.voice.name} ({lang.voice.code})")
            for lang in services.pipeline.renderer.languages()
        ],
        "rate_options": RATE_OPTIONS,
        "channel_options": CHANNEL_OPTIONS,
        "second_channel_options": SECOND_CHANNEL_OPTIONS,
        "unit_options": UNIT_OPTIONS,
        "step_options": STEP_OPTIONS,
        "voicemail_options": VOICEMAIL_OPTIONS,
        "follow_up_options": FOLLOW_UP_OPTIONS,
    }


@router.get("/clinics", name="clinics", response_class=HTMLResponse)
def clinics_page(visit: StaffVisit, db_session: SessionDep) -> Response:
    clinics = list_clinics(db_session, caller_of(visit))
    deleted = visit.request.query_params.get("deleted") == "1"
    return visit.page("clinics.html", {"title": "Clinics", "clinics": clinics, "deleted": deleted})


@router.get("/new-clinic", name="new_clinic", response_class=HTMLResponse)
def new_clinic_page(visit: StaffVisit, services: ServicesDep) -> Response:
    _admin(visit)
    form = ClinicForm.blank().with_rows(1)
    context = _form_context(services, form) | {"title": "Add a clinic", "clinic": None}
    return visit.page("clinic.html", context)


@router.post("/new-clinic", response_class=HTMLResponse)
def add_clinic(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    form: Annotated[ClinicForm, Form()],
    action: Annotated[str, Form()] = "save",
) -> Response:
    caller = _admin(visit)
    context = _form_context(services, form.with_rows(1)) | {"title": "Add a clinic", "clinic": None}
    if action == "add_row":
        context["form"] = form.with_rows(2)
        return visit.page("clinic.html", context)
    offered = services.pipeline.renderer.offered_kinds
    try:
        body = _validated(ClinicCreate, form.settings_body() | {"id": form.id.strip()})
        clinic = create_clinic(db_session, caller, body, offered)
    except ValidationProblem as problem:
        context["errors"] = form_errors(problem)
        return visit.page("clinic.html", context, status_code=422)
    except Problem as problem:  # the id is taken
        context["errors"] = {"id": problem.detail}
        return visit.page("clinic.html", context, status_code=problem.status)
    return visit.redirect(str(visit.request.url_for("clinic", clinic_id=clinic.id)))


def _clinic_or_refusal(db_session: SessionDep, clinic_id: str, caller: Caller) -> Clinic:
    try:
        return get_clinic(db_session, clinic_id, caller)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err


@router.get("/clinics/{clinic_id}", name="clinic", response_class=HTMLResponse)
def clinic_page(
    visit: StaffVisit, services: ServicesDep, db_session: SessionDep, clinic_id: str
) -> Response:
    clinic = _clinic_or_refusal(db_session, clinic_id, caller_of(visit))
    settings = clinic_settings(clinic)
    form = ClinicForm.of(settings).with_rows(1)
    context = _form_context(services, form) | {
        "title": clinic.display_name,
        "clinic": settings,
        "saved": visit.request.query_params.get("saved") == "1",
    }
    return visit.page("clinic.html", context)


@router.post("/clinics/{clinic_id}", response_class=HTMLResponse)
def change_clinic(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    form: Annotated[ClinicForm, Form()],
    action: Annotated[str, Form()] = "save",
) -> Response:
    caller = _admin(visit)
    clinic = _clinic_or_refusal(db_session, clinic_id, caller)
    context = _form_context(services, form.with_rows(1)) | {
        "title": clinic.display_name,
        "clinic": clinic_settings(clinic),
    }
    if action == "add_row":
        context["form"] = form.with_rows(2)
        return visit.page("clinic.html", context)
    offered = services.pipeline.renderer.offered_kinds
    try:
        patch = _validated(ClinicPatch, form.settings_body())
        update_clinic(db_session, caller, clinic, patch, offered)
    except ValidationProblem as problem:
        context["errors"] = form_errors(problem)
        return visit.page("clinic.html", context, status_code=422)
    url = visit.request.url_for("clinic", clinic_id=clinic.id)
    return visit.redirect(f"{url}?saved=1")


@router.post("/clinics/{clinic_id}/delete", name="delete_clinic")
def remove_clinic(visit: CheckedVisit, db_session: SessionDep, clinic_id: str) -> Response:
    caller = _admin(visit)
    delete_clinic(db_session, caller, _clinic_or_refusal(db_session, clinic_id, caller))
    return visit.redirect(str(visit.request.url_for("clinics")) + "?deleted=1")


@router.get(
    "/clinics/{clinic_id}/follow-ups", name="clinic_follow_ups", response_class=HTMLResponse
)
def clinic_follow_ups_page(
    visit: StaffVisit, services: ServicesDep, db_session: SessionDep, clinic_id: str
) -> Response:
    """The clinic's follow-up answers per ISO week: the counts the API gives, no patient."""
    clinic = _clinic_or_refusal(db_session, clinic_id, caller_of(visit))
    now = services.pipeline.clock.now()
    context = {
        "title": f"Follow-up answers: {clinic.display_name}",
        "clinic": clinic,
        "weeks": weekly_counts(db_session, clinic, now, WEEKS_DEFAULT),
        "span": WEEKS_DEFAULT,
        "questions": dict(FOLLOW_UP_OPTIONS),
    }
    return visit.page("follow_ups.html", context)
