"""Every public link in one place: the paths, the signed tokens, and the absolute URLs.

Patients, Twilio and app backends reach Tellwell through ``TELLWELL_PUBLIC_BASE_URL``, which
may carry a path prefix that a proxy strips (``https://example.org/tw``). Every URL that
leaves the service is built here, absolute, from that base, so none loses the prefix: a
TwiML ``<Gather action>`` given as ``/v1/...`` would be resolved by Twilio against the
host alone, and its signature would then no longer match. The app and the workers share
one ``Links``, made once per process from the settings.

Tokens name an opaque id only (an audio content key, a reminder id), signed and
time-limited with itsdangerous, so a link says nothing about the patient.

A leaf module: it imports nothing of the project, so faces, records and workers may all
use it.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

AUDIO_PATH = "/v1/audio/{token}"
LISTEN_PATH = "/listen/{token}"
REMINDER_PATH = "/v1/reminders/{reminder_id}"
CLINIC_PATH = "/v1/clinics/{clinic_id}"
APPOINTMENT_PATH = "/v1/appointments/{clinic_id}/{external_id}"
TWILIO_VOICE_PATH = "/v1/twilio/voice"
TWILIO_GATHER_PATH = "/v1/twilio/gather"
TWILIO_STATUS_PATH = "/v1/twilio/status"
TWILIO_DIAL_PATH = "/v1/twilio/dial"
TWILIO_SMS_STATUS_PATH = "/v1/twilio/sms/status"
TWILIO_ATTEMPT_PARAM = "attempt"
"""The one query parameter Twilio's callbacks carry: our attempt id, nothing about the patient."""
AUDIO_LINK_SALT = "tellwell.audio"
LISTEN_LINK_SALT = "tellwell.listen"

EpochClock = Callable[[], float]
"""Seconds since the epoch; ``time.time`` in service, a hand-moved clock in tests."""


class LinkError(Exception):
    """A signed link (audio or listen page) that is forged or out of date."""


class SignedTokens:
    """Opaque ids signed and time-limited with itsdangerous; one salt per kind of link."""

    def __init__(self, secret: str, salt: str, ttl_s: int, clock: EpochClock = time.time) -> None:
        class ClockedSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._serializer = URLSafeTimedSerializer(secret, salt=salt, signer=ClockedSigner)
        self.ttl_s = ttl_s

    def sign(self, *values: str) -> str:
        return self._serializer.dumps(list(values))

    def open(self, token: str, arity: int) -> list[str]:
        """The ``arity`` values the token carries; LinkError if forged, expired or malformed."""
        try:
            values = self._serializer.loads(token, max_age=self.ttl_s)
        except SignatureExpired as err:
            raise LinkError("expired") from err
        except (BadSignature, ValueError, TypeError) as err:
            raise LinkError("invalid") from err
        if not isinstance(values, list) or len(values) != arity:
            raise LinkError("invalid")
        return [str(value) for value in values]


class Links:
    """Builds every public URL from the base URL, and opens the tokens it signed."""

    def __init__(
        self, base_url: str, secret: str, ttl_s: int, clock: EpochClock = time.time
    ) -> None:
        self.base = base_url.rstrip("/")
        self.ttl_s = ttl_s
        self._audio = SignedTokens(secret, AUDIO_LINK_SALT, ttl_s, clock)
        self._listen = SignedTokens(secret, LISTEN_LINK_SALT, ttl_s, clock)

    def public_url(self, path: str, query: str = "") -> str:
        """The URL an outside caller used to reach ``path`` (the app sees the path only)."""
        return self.base + path + (f"?{query}" if query else "")

    def reminder(self, reminder_id: str) -> str:
        return self.public_url(REMINDER_PATH.format(reminder_id=reminder_id))

    def clinic(self, clinic_id: str) -> str:
        return self.public_url(CLINIC_PATH.format(clinic_id=clinic_id))

    def appointment(self, clinic_id: str, external_id: str) -> str:
        """Both ids are checked to be URL-safe before an appointment is stored."""
        return self.public_url(
            APPOINTMENT_PATH.format(clinic_id=clinic_id, external_id=external_id)
        )

    # -- audio and the listen page ------------------------------------------------------

    def audio(self, audio_key: str, audio_format: str) -> str:
        """A signed, expiring link to one rendered file, named by its content key only."""
        token = self._audio.sign(audio_key, audio_format)
        return self.public_url(AUDIO_PATH.format(token=token))

    def audio_for_page(self, audio_key: str, audio_format: str, page_path: str) -> str:
        """The audio link as one of our own pages embeds it: relative to the page's path, so
        it resolves under whatever host and path prefix served the page."""
        token = self._audio.sign(audio_key, audio_format)
        return posixpath.relpath(AUDIO_PATH.format(token=token), posixpath.dirname(page_path))

    def open_audio(self, token: str) -> tuple[str, str]:
        """``(audio_key, audio_format)`` of a token made by ``audio``."""
        audio_key, audio_format = self._audio.open(token, 2)
        return audio_key, audio_format

    def listen(self, reminder_id: str) -> str:
        """A signed, expiring link to the patient's listen page for one reminder."""
        return self.public_url(LISTEN_PATH.format(token=self._listen.sign(reminder_id)))

    def open_listen(self, token: str) -> str:
        """The reminder id of a token made by ``listen``."""
        (reminder_id,) = self._listen.open(token, 1)
        return reminder_id

    # -- Twilio ------------------------------------------------------------------------

    def _twilio(self, path: str, attempt_id: str) -> str:
        return self.public_url(path, urlencode({TWILIO_ATTEMPT_PARAM: attempt_id}))

    def twilio_voice(self, attempt_id: str) -> str:
        """Where Twilio fetches the TwiML of an answered call."""
        return self._twilio(TWILIO_VOICE_PATH, attempt_id)

    def twilio_gather(self, attempt_id: str) -> str:
        """Where Twilio posts the key a patient pressed (the ``<Gather action>``)."""
        return self._twilio(TWILIO_GATHER_PATH, attempt_id)

    def twilio_dial(self, attempt_id: str) -> str:
        """Where Twilio posts how the patient's call to the clinic ended (``<Dial action>``)."""
        return self._twilio(TWILIO_DIAL_PATH, attempt_id)

    def twilio_status(self, attempt_id: str) -> str:
        """Where Twilio posts a call's progress and outcome."""
        return self._twilio(TWILIO_STATUS_PATH, attempt_id)

    def twilio_sms_status(self, attempt_id: str) -> str:
        """Where Twilio posts a text's delivery (the message's ``StatusCallback``)."""
        return self._twilio(TWILIO_SMS_STATUS_PATH, attempt_id)
