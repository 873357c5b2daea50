"""The Twilio channel: a phone call placed through Twilio's official SDK.

``send`` checks the opt-out list, waits for a slot in the account's shared pace, then
asks Twilio to place the call with answering-machine detection and a status callback.
Twilio answers at once with a queued call; what happened on the call arrives later as
signed callbacks (``service/api/twilio.py``), so ``send`` returns a ``pending`` outcome.

Never a second call by mistake: the attempt row exists before ``calls.create``. If the
worker dies after Twilio took the call but before the call's id was saved, ``reconcile``
looks the call up at Twilio before anything is dialled again. A 5xx or a dropped
connection on create is just as ambiguous, so it too is reconciled before create is tried
again; a 429 created nothing and is retried after its ``Retry-After``.

How reconcile recognises the call, and what that costs:

- Usually exactly: Twilio's first status callback (``initiated``, within about a second)
  carries the call's id and our attempt id, and is saved on the attempt; reconcile then
  fetches that call by id.
- If no callback has arrived yet (Twilio still queueing, or our API down as well), Twilio's
  call record carries nothing of ours to match on: no attempt id, no custom field. So
  reconcile takes the calls to the patient's number from the number it was placed from
  (the clinic's caller ID, else ours) created since the attempt began (less
  ``CLOCK_SKEW_S``), drops every call already recorded on another attempt (that call is
  certainly not this one's), and takes the earliest left.
  It can still pick the wrong call only when several attempts for the same number, each
  unrecorded, overlap: say two reminders for one patient both lost mid-dial within
  minutes. Then each adopts a call that really happened, so the patient is still called
  once per attempt, never twice; what can be wrong is which reminder's outcome a call
  reports, until its callbacks (which name the right attempt) arrive. Picking the
  wrong call can never cause a redial; missing the call would, so the match leans wide:
  clock skew allowed, and a call the account placed outside Tellwell to the same number
  in that window would be taken for ours (and the patient not called again).

URLs given to Twilio carry only the attempt id, never anything about the patient.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from service.call_policy import NeverCallList
from service.config import Settings
from service.db import Database
from service.links import Links
from service.models import Attempt, Reminder, Status
from workers.channels.base import PENDING, Delivery, Outcome
from workers.errors import ChannelUnavailable
from workers.pacing import Pacer

log = logging.getLogger(__name__)

TWILIO_API_BASE = "https://api.twilio.com"
CREATE_TRIES = 5
"""Attempts at ``calls.create`` before the dispatch is left to the sweeper."""
RETRY_AFTER_DEFAULT_S = 1.0
RETRY_AFTER_MAX_S = 30.0
"""A larger ``Retry-After`` is capped: the lease, not Twilio, bounds how long we hold on."""
CLOCK_SKEW_S = 120.0
"""How far Twilio's clock may differ from ours when matching a call to an attempt."""
RECONCILE_LOOKBACK = 20
"""Recent calls to the number examined when looking for an attempt's call."""
MACHINE_DETECTION = "DetectMessageEnd"
"""Wait for the greeting to end, so the voicemail message starts after the beep."""
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RING_TIMEOUT_S = 30
RETRYABLE_CALL_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})
FINISHED_CALL_STATUSES = RETRYABLE_CALL_STATUSES | {"completed"}


class ApiBaseHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending to another API base (the simulator) if configured."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self._seen = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.api_base != TWILIO_API_BASE and url.startswith(TWILIO_API_BASE):
            url = self.api_base + url[len(TWILIO_API_BASE) :]
        response = super().request(method, url, *args, **kwargs)
        self._seen.headers = response.headers
        return response

    def last_header(self, name: str) -> str | None:
        """A header of this thread's last response (the SDK's errors drop them)."""
        headers = getattr(self._seen, "headers", None) or {}
        return headers.get(name)


def call_outcome(
    call_status: str, answered_by: str | None, call_sid: str, duration_s: float | None = None
) -> Outcome:
    """What a Twilio call status means for the reminder."""
    if call_status not in FINISHED_CALL_STATUSES:
        return Outcome(status=PENDING, provider_ref=call_sid, answered_by=answered_by)
    if call_status in RETRYABLE_CALL_STATUSES:
        return Outcome(
            status=Status.FAILED,
            provider_ref=call_sid,
            detail=call_status,
            retryable=True,
            duration_s=duration_s,
        )
    if answered_by and (answered_by.startswith("machine") or answered_by == "fax"):
        return Outcome(
            status=Status.VOICEMAIL,
            provider_ref=call_sid,
            answered_by=answered_by,
            duration_s=duration_s,
        )
    return Outcome(
        status=Status.DELIVERED,
        provider_ref=call_sid,
        answered_by=answered_by,
        duration_s=duration_s,
    )


class _Listed(Protocol):
    """A call or message in one of Twilio's lists."""

    @property
    def sid(self) -> object: ...

    @property
    def date_created(self) -> datetime | None: ...


Listed = TypeVar("Listed", bound=_Listed)


@dataclass(frozen=True)
class SentFor:
    """What reconcile needs to recognise what an attempt sent (a call, a text)."""

    to: str
    from_: str
    """The number it was sent from: the clinic's caller ID, else ours."""
    started_at: datetime
    provider_ref: str | None


def sent_for(db: Database, attempt_id: str, default_from: str) -> SentFor | None:
    """The attempt's addresses and start, or None if there is no such attempt."""
    with db.session() as session:
        row = session.execute(
            select(Attempt, Reminder.facts)
            .join(Reminder, Reminder.id == Attempt.reminder_id)
            .where(Attempt.id == attempt_id)
        ).first()
        if row is None:
            return None
        attempt, facts = row
        return SentFor(
            to=facts["patient"]["phone"],
            from_=facts["clinic"].get("caller_id") or default_from,
            started_at=attempt.started_at,
            provider_ref=attempt.provider_ref,
        )


def earliest_unclaimed(
    db: Database, attempt_id: str, sent: SentFor, recent: list[Listed]
) -> Listed | None:
    """Of Twilio's ``recent`` calls or messages to the number, the earliest since the
    attempt began that no other attempt owns: the one this attempt sent, if any."""
    earliest = sent.started_at - timedelta(seconds=CLOCK_SKEW_S)
    since = [r for r in recent if r.date_created and r.date_created >= earliest]
    if not since:
        return None
    with db.session() as session:
        taken = set(
            session.scalars(
                select(Attempt.provider_ref).where(
                    Attempt.provider_ref.in_([str(r.sid) for r in since]),
                    Attempt.id != attempt_id,
                )
            )
        )
    unclaimed = [r for r in since if str(r.sid) not in taken]
    return min(unclaimed, key=lambda r: r.date_created or earliest, default=None)


class TwilioChannel:
    name = "twilio"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        pacer: Pacer,
        links: Links,
        never_call: NeverCallList,
        http_client: ApiBaseHttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.pacer = pacer
        self.http = http_client or ApiBaseHttpClient(
            settings.twilio_api_base, settings.twilio_timeout_s
        )
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self.http,
        )
        self.links = links
        self.never_call = never_call

    def send(self, delivery: Delivery) -> Outcome:
        with self.db.session() as session:
            if self.never_call.blocks(session, delivery.to):
                return Outcome(status=Status.FAILED, detail="the patient opted out of calls")
        for _ in range(CREATE_TRIES):
            self.pacer.wait_for_slot()
            try:
                call = self.client.calls.create(
                    to=delivery.to,
                    from_=delivery.caller_id or self.settings.twilio_from_number,
                    url=self.links.twilio_voice(delivery.attempt_id),
                    method="POST",
                    status_callback=self.links.twilio_status(delivery.attempt_id),
                    status_callback_method="POST",
                    status_callback_event=STATUS_EVENTS,
                    machine_detection=MACHINE_DETECTION,
                    timeout=RING_TIMEOUT_S,
                )
            except TwilioRestException as err:
                if err.status == 429:
                    time.sleep(self._retry_after())
                    continue
                if err.status < 500:
                    raise ChannelUnavailable(f"Twilio refused the call: {err.status}") from err
                # A 5xx may still have placed the call: look before dialling again.
                if (found := self.reconcile(delivery.attempt_id)) is not None:
                    return found
                time.sleep(self._retry_after())
                continue
            except TwilioException as err:
                raise ChannelUnavailable(f"Twilio could not be reached: {err}") from err
            except OSError as err:
                # Timeouts and dropped connections: the call may exist; reconcile says.
                if (found := self.reconcile(delivery.attempt_id)) is not None:
                    return found
                raise ChannelUnavailable("Twilio could not be reached") from err
            return Outcome(status=PENDING, provider_ref=call.sid)
        raise ChannelUnavailable(f"Twilio still busy after {CREATE_TRIES} tries")

    def _retry_after(self) -> float:
        header = self.http.last_header("Retry-After")
        try:
            wait = float(header) if header is not None else RETRY_AFTER_DEFAULT_S
        except ValueError:
            wait = RETRY_AFTER_DEFAULT_S
        return min(max(wait, 0.0), RETRY_AFTER_MAX_S)

    def reconcile(self, attempt_id: str) -> Outcome | None:
        sent = sent_for(self.db, attempt_id, self.settings.twilio_from_number)
        if sent is None:
            return None
        try:
            if sent.provider_ref:
                call = self.client.calls(sent.provider_ref).fetch()
            else:
                recent = self.client.calls.list(
                    to=sent.to, from_=sent.from_, limit=RECONCILE_LOOKBACK
                )
                found = earliest_unclaimed(self.db, attempt_id, sent, recent)
                if found is None:
                    return None
                call = found
        except (TwilioException, OSError) as err:
            # Unknown is not "never sent": leave the lease to lapse and ask again later.
            raise ChannelUnavailable("could not look the call up at Twilio") from err
        duration = float(call.duration) if call.duration else None
        return call_outcome(str(call.status), call.answered_by, str(call.sid), duration)
