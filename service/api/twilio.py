"""Twilio's side of a call: the TwiML it asks for, the keys pressed, the status callbacks.

Every request must carry a valid ``X-Twilio-Signature``, checked with Twilio's own
``RequestValidator`` against the public URL (``TELLWELL_PUBLIC_BASE_URL``: what Twilio
called, even behind a TLS-terminating proxy that strips a path prefix); anything else is a
403 and changes nothing. Every URL in the TwiML is absolute (``service.links``), so Twilio
comes back through the same prefix.
Callbacks may come twice or out of order: ``Pipeline.settle`` only moves forward.

Keys mean what ``service.call_policy.key_action`` says (1 confirm, 2 cancel request on
appointments, 9 repeat, 0 talk to the clinic, 8 never call this number again); on a
``follow_up`` call the question's answer keys come first (``service.follow_ups.answer_for``).
Each key is answered with a short reply in the patient's language (``templates.keypad_reply``).
Where Twilio recognises the patient's language, the menu also listens for words ("yes",
"sí", "cancel", "agent": ``service.call_policy.reply_action``; a follow-up's answer said as
a number or, to a yes/no question, yes or no: ``service.follow_ups.answer_heard``); what it
heard is kept on the attempt, and an answer heard with little confidence is asked once to
confirm by key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from service.call_policy import (
    KEY_STATUS,
    KEYPAD_SOURCE,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    SMS_SOURCE,
    reply_action,
    speech_input,
)
from service.deps import Services, ServicesDep, SessionDep
from service.errors import Problem
from service.escalation import TEXT_STATUSES
from service.follow_ups import answer_heard, record_answer
from service.links import TWILIO_ATTEMPT_PARAM
from service.models import Attempt, Reminder, ReminderEvent, Status, audit
from templates import UnknownTemplate
from workers.channels import Outcome
from workers.channels.twilio import call_outcome
from workers.pipeline import store_audio
from workers.rendering import FORMAT_FOR_CHANNEL

router = APIRouter(prefix="/v1/twilio", tags=["twilio"], include_in_schema=False)

GATHER_TIMEOUT_S = 8
"""Seconds Twilio waits for a key after the message before hanging up."""
SPEECH_RESULT_MAX = 200
"""Characters of Twilio's ``SpeechResult`` kept on the attempt (a reply is a few words)."""
TWIML = "application/xml"


async def _signed_form(request: Request, services: ServicesDep) -> dict[str, str]:
    """The callback's form fields, if Twilio signed them; a 403 otherwise."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    token = services.settings.twilio_auth_token.get_secret_value()
    url = services.links.public_url(request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not RequestValidator(token).validate(url, form, signature):
        raise Problem(403, "Forbidden", "The Twilio signature is missing or wrong.")
    return form


SignedForm = Annotated[dict[str, str], Depends(_signed_form)]
AttemptId = Annotated[str, Query(alias=TWILIO_ATTEMPT_PARAM, max_length=32)]


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type=TWIML)


def _load(session: Session, attempt_id: str) -> tuple[Attempt, Reminder]:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise Problem(404, "Not Found", "No such call attempt.")
    return attempt, session.get_one(Reminder, attempt.reminder_id)


class _Voice:
    """Audio links for one call: the message, the voicemail, and the keypad replies."""

    def __init__(self, services: Services, session: Session, reminder: Reminder) -> None:
        self.services, self.session, self.reminder = services, session, reminder
        self.fmt = reminder.audio_format or FORMAT_FOR_CHANNEL["phone"].value

    def link(self, audio_key: str) -> str:
        return self.services.links.audio(audio_key, self.fmt)

    def reply(self, name: str, action: str = "confirm") -> str | None:
        """A keypad reply's audio; None (the call goes on unsaid) if the language lacks it."""
        renderer, reminder = self.services.pipeline.renderer, self.reminder
        try:
            audio = renderer.reply(
                reminder.language, name, reminder.facts, FORMAT_FOR_CHANNEL["phone"], action
            )
        except UnknownTemplate:
            return None
        store_audio(self.session, audio, self.services.pipeline.audio_store)
        return self.link(audio.key)

    def menu(self, response: VoiceResponse, attempt_id: str, lead_in: str | None = None) -> None:
        """The message with its keypad menu; after it, a silent caller is hung up on."""
        gather = self.gather(attempt_id, speech=True)
        for link in (lead_in and self.reply(lead_in), self.link(self.reminder.audio_key or "")):
            if link:
                gather.play(link)
        if end := self.reply("offer_opt_out"):
            gather.play(end)
        response.append(gather)
        response.hangup()

    def gather(self, attempt_id: str, *, speech: bool) -> Gather:
        """A one-key ``<Gather>`` posting to the attempt's action; with ``speech``, it takes
        words too where Twilio recognises the patient's language."""
        action = self.services.links.twilio_gather(attempt_id)
        words: dict[str, str] = {}
        if speech and (listen := speech_input(self.reminder.kind, self.reminder.language)):
            words = {
                "input": "dtmf speech",
                "language": listen.language,
                "hints": listen.hints,
                "speech_timeout": "auto",
            }
        return Gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_S, **words)

    def check(self, response: VoiceResponse, attempt_id: str, action: str) -> None:
        """Ask once, by key only, whether a spoken answer heard unsurely was meant."""
        gather = self.gather(attempt_id, speech=False)
        if link := self.reply("speech_check", action):
            gather.play(link)
        response.append(gather)
        response.hangup()


@router.post("/voice")
def voice(
    attempt_id: AttemptId, form: SignedForm, session: SessionDep, services: ServicesDep
) -> Response:
    """The call was answered: a person hears the menu, a machine the voicemail."""
    attempt, reminder = _load(session, attempt_id)
    answered_by = form.get("AnsweredBy") or None
    attempt.answered_by = answered_by or attempt.answered_by
    attempt.provider_ref = attempt.provider_ref or form.get("CallSid")
    voice = _Voice(services, session, reminder)
    response = VoiceResponse()
    if answered_by and answered_by.startswith("machine"):
        if reminder.voicemail_audio_key:
            response.play(voice.link(reminder.voicemail_audio_key))
        response.hangup()
    elif answered_by == "fax":
        response.hangup()
    else:
        voice.menu(response, attempt.id)
    session.commit()
    return _twiml(response)


@router.post("/gather")
def gather(
    attempt_id: AttemptId, form: SignedForm, session: SessionDep, services: ServicesDep
) -> Response:
    """A key was pressed or words said: the person heard the message; act on the answer
    and say so."""
    attempt, reminder = _load(session, attempt_id)
    digit = form.get("Digits", "")[:1]
    attempt.digits = ((attempt.digits or "") + digit)[-40:] or None
    speech = form.get("SpeechResult", "")[:SPEECH_RESULT_MAX].strip()
    confidence = _confidence(form.get("Confidence"))
    if speech and not digit:
        attempt.speech_result, attempt.speech_confidence = speech, confidence
    pipeline = services.pipeline
    heard = Outcome(status=Status.DELIVERED, provider_ref=form.get("CallSid"))
    pipeline.settle(session, attempt.id, heard)
    voice = _Voice(services, session, reminder)
    response = VoiceResponse()
    action = reply_action(reminder.kind, reminder.language, digit, speech)
    unsure = confidence is None or confidence < services.settings.speech_confidence_min
    answer = answer_heard(reminder, digit, speech)
    if answer is not None and (digit or not unsure):
        record_answer(session, reminder, attempt, answer, pipeline.clock.now())
        _say(response, voice, "confirm")  # "Thank you. Your answer is saved."
        response.hangup()
    elif action is not None and not digit and unsure:
        voice.check(response, attempt.id, action)
    elif action in KEY_STATUS:
        pipeline.settle(session, attempt.id, Outcome(status=KEY_STATUS[action]))
        _say(response, voice, action)
        response.hangup()
    elif action == "repeat":
        voice.menu(response, attempt.id, lead_in="repeat")
    elif action == "clinic":
        _say(response, voice, "clinic")
        action_url = services.links.twilio_dial(attempt.id)
        response.dial(reminder.facts["clinic"]["callback_phone"], action=action_url, method="POST")
    elif action == "opt_out":
        # The number this call reached: Twilio's signed ``To`` if the patient's record has
        # been erased meanwhile (their wish still counts).
        phone = reminder.facts["patient"].get("phone") or form.get("To")
        if phone:
            pipeline.never_call.add(session, phone, KEYPAD_SOURCE)
        session.add(
            ReminderEvent(
                reminder_id=reminder.id,
                status=reminder.status,
                detail=f"patient opted out ({digit or 'spoken'})",
            )
        )
        _say(response, voice, "opt_out")
        response.hangup()
    else:
        voice.menu(response, attempt.id, lead_in="unknown")
    session.commit()
    return _twiml(response)


def _confidence(value: str | None) -> float | None:
    """Twilio's ``Confidence`` (0 to 1); None when missing or not a number."""
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if 0.0 <= number <= 1.0 else None


def _say(response: VoiceResponse, voice: _Voice, reply: str) -> None:
    if link := voice.reply(reply):
        response.play(link)


@router.post("/dial")
def dial(attempt_id: AttemptId, form: SignedForm, session: SessionDep) -> Response:
    """The patient's call to the clinic (key 0) ended: how it ended is kept on the attempt,
    so one the clinic did not answer reaches the staff worklist. The call then ends."""
    attempt, _ = _load(session, attempt_id)
    attempt.clinic_dial = form.get("DialCallStatus", "")[:20] or None
    session.commit()
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


@router.post("/sms")
def incoming_text(form: SignedForm, session: SessionDep, services: ServicesDep) -> Response:
    """A patient's text to the clinic's number (Twilio's incoming-message webhook): an
    opt-out keyword (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) puts the
    number on the one list calls and texts share; an opt-in one (START, YES, UNSTOP) lifts
    the patient's own opt-out. Twilio answers the keyword itself; any other text gets no reply."""
    phone = form.get("From", "")
    keyword = form.get("OptOutType", "").upper() or form.get("Body", "").strip().upper()
    never_call = services.pipeline.never_call
    if phone and keyword in OPT_OUT_KEYWORDS:
        never_call.add(session, phone, SMS_SOURCE)
        audit(session, None, "opt_out.sms", "phone", never_call.phone_hash(phone))
    elif phone and keyword in OPT_IN_KEYWORDS and never_call.lift_by_patient(session, phone):
        audit(session, None, "opt_out.sms_start", "phone", never_call.phone_hash(phone))
    session.commit()
    return Response(str(MessagingResponse()), media_type=TWIML)


@router.post("/sms/status", status_code=204)
def text_status(
    attempt_id: AttemptId, form: SignedForm, session: SessionDep, services: ServicesDep
) -> Response:
    """A text's status callback: queued, sent, delivered, undelivered or failed (Twilio's
    ``MessageStatus``; others are not recorded). An undelivered text lets the escalation
    go on (``Pipeline.text_status``)."""
    attempt, _ = _load(session, attempt_id)
    status = form.get("MessageStatus", "")
    if attempt.channel == "sms" and status in TEXT_STATUSES:
        services.pipeline.text_status(session, attempt.id, status, form.get("ErrorCode", ""))
        session.commit()
    return Response(status_code=204)


@router.post("/status", status_code=204)
def status(
    attempt_id: AttemptId, form: SignedForm, session: SessionDep, services: ServicesDep
) -> Response:
    """Twilio's status callback: progress, then how the call ended."""
    attempt, _ = _load(session, attempt_id)
    duration = form.get("CallDuration")
    outcome = call_outcome(
        form.get("CallStatus", ""),
        form.get("AnsweredBy") or None,
        form.get("CallSid", ""),
        float(duration) if duration else None,
    )
    services.pipeline.settle(session, attempt.id, outcome)
    session.commit()
    return Response(status_code=204)
