"""The SMS channel: a text with the listen link, sent through Twilio Messages (the SDK).

Texts go to the same opt-out list as calls: a number on it is never texted either, and a
STOP reply puts it there (``service/api/twilio.py``, the inbound-message webhook). Twilio
takes a message at once (``queued``); that counts as sent. Its ``StatusCallback`` then
reports sent, delivered, undelivered or failed (``/v1/twilio/sms/status``): a text that
never arrived lets the escalation go on (``Pipeline.text_status``).

Like a call, a text is never sent twice by mistake: the attempt row exists before
``messages.create``, and ``reconcile`` looks for the attempt's message at Twilio before
anything is sent again.
"""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from service.call_policy import NeverCallList
from service.config import Settings
from service.db import Database
from service.links import Links
from service.models import Status
from workers.channels.base import Delivery, Outcome
from workers.channels.twilio import (
    RECONCILE_LOOKBACK,
    ApiBaseHttpClient,
    earliest_unclaimed,
    sent_for,
)
from workers.errors import ChannelUnavailable

log = logging.getLogger(__name__)

SENT = Outcome(status=Status.DELIVERED)
OPTED_OUT = "the patient opted out of calls and texts"


class TwilioSmsChannel:
    name = "sms"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        links: Links,
        never_call: NeverCallList,
        http_client: ApiBaseHttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.links = links
        self.never_call = never_call
        http = http_client or ApiBaseHttpClient(settings.twilio_api_base, settings.twilio_timeout_s)
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=http,
        )

    def _from(self, caller_id: str | None) -> str:
        return caller_id or self.settings.twilio_from_number

    def send(self, delivery: Delivery) -> Outcome:
        with self.db.session() as session:
            if self.never_call.blocks(session, delivery.to):
                return Outcome(status=Status.FAILED, detail=OPTED_OUT)
        try:
            message = self.client.messages.create(
                to=delivery.to,
                from_=self._from(delivery.caller_id),
                body=delivery.text_message,
                status_callback=self.links.twilio_sms_status(delivery.attempt_id),
            )
        except TwilioRestException as err:
            if err.status >= 500 and (found := self.reconcile(delivery.attempt_id)) is not None:
                return found
            raise ChannelUnavailable(f"Twilio refused the text: {err.status}") from err
        except (TwilioException, OSError) as err:
            if (found := self.reconcile(delivery.attempt_id)) is not None:
                return found
            raise ChannelUnavailable("Twilio could not be reached") from err
        return Outcome(status=Status.DELIVERED, provider_ref=str(message.sid))

    def reconcile(self, attempt_id: str) -> Outcome | None:
        """The attempt's message if Twilio has one (the earliest to the number since the
        attempt began that no other attempt owns); None if it was never sent."""
        sent = sent_for(self.db, attempt_id, self.settings.twilio_from_number)
        if sent is None:
            return None
        if sent.provider_ref:
            return Outcome(status=Status.DELIVERED, provider_ref=sent.provider_ref)
        try:
            recent = self.client.messages.list(
                to=sent.to, from_=sent.from_, limit=RECONCILE_LOOKBACK
            )
        except (TwilioException, OSError) as err:
            raise ChannelUnavailable("could not look the text up at Twilio") from err
        first = earliest_unclaimed(self.db, attempt_id, sent, recent)
        if first is None:
            return None
        return Outcome(status=Status.DELIVERED, provider_ref=str(first.sid))
