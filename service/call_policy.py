"""The phone-call rules, in one place: when a call may be placed, how often, to whom, and
what a key pressed on it means.

- **Window**: no call outside set local hours in the patient's time zone. A call at 3 a.m.
  wakes and frightens people; a time outside the window moves to the next allowed moment,
  computed on the local clock so daylight-saving days come out right.
- **Limits**: at most ``calls_per_day`` calls for one reminder in any 24 hours and
  ``calls_per_week`` in any 7 days, at least ``call_retry_backoff_s`` apart, never once the
  visit has begun.
- **Opt-outs**: a number on the never-call list is never dialled; numbers are kept only as
  keyed hashes (``NeverCallList``), and a patient's own opt-out is lifted only by an admin.
- **Keypad**: what each key does on a live call (``templates.KEYPAD`` per kind, which the
  spoken menu is written from, plus ``templates.CALL_KEYS`` for every kind).

The API uses the window to set a reminder's first send time; the dispatcher, the sweeper
and Twilio's callbacks use all of it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.errors import FieldError, Problem, ValidationProblem
from service.models import OptOut, Role, Status
from service.security import Caller
from templates import CALL_KEYS, KEYPAD, heard_action, load_profile, speech_hints

CALL_MESSAGE_MAX_S = 60.0
"""The longest one hearing of a call or voicemail message may last at the patient's own
rate: listeners drift off after a minute, and voicemail boxes cut long messages. Holds for
every message at the slow rate (the shipped templates' tests, a clinic's wording gate)."""
PACED_HEARING_MAX_S = 80.0
"""The same for a patient whose accessibility profile asks for longer pauses or the repeat
key offered twice: the words still fit ``CALL_MESSAGE_MAX_S`` at the slow rate, and the
silence and the extra sentence the patient asked for may add up to 20 s. A profile that
repeats the message plays this hearing twice, "Here is the message again." between: the
limit is per hearing, so such a call's audio lasts at most twice this plus the lead-in."""
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
KEY_STATUS = {"confirm": Status.CONFIRMED, "cancel": Status.CANCEL_REQUESTED}
"""Keys whose action settles the reminder in a status of its own."""


LEGAL_OPENS, LEGAL_CLOSES = time(8), time(21)
"""The widest calling hours any clinic may set (TCPA: no calls before 8 a.m. or after 9 p.m.)."""


@dataclass(frozen=True)
class CallingHours:
    """Local hours in which a patient may be called: [opens, closes) in their time zone.

    Computed on the local clock, so daylight-saving days come out right: a moment that does
    not exist locally (02:30 on the spring-forward day) is never produced.
    """

    opens: time
    closes: time

    @classmethod
    def parse(cls, opens: str, closes: str) -> CallingHours:
        """From ``HH:MM`` strings, as a clinic record keeps them."""
        return cls(time.fromisoformat(opens), time.fromisoformat(closes))

    def next_allowed(self, at: datetime, timezone: str) -> datetime:
        """The first moment at or after ``at`` inside the hours, in UTC."""
        zone = ZoneInfo(timezone)
        local = at.astimezone(zone)
        if self.opens <= local.time() < self.closes:
            return at.astimezone(UTC)
        day = local.date() if local.time() < self.opens else local.date() + timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)

    def last_allowed(self, at: datetime, timezone: str) -> datetime:
        """The last moment at or before ``at`` inside the hours, in UTC (for moving a
        reminder earlier, never later, when its planned time falls outside them)."""
        zone = ZoneInfo(timezone)
        local = at.astimezone(zone)
        if self.opens <= local.time() < self.closes:
            return at.astimezone(UTC)
        day = local.date() if local.time() >= self.closes else local.date() - timedelta(days=1)
        closing = datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC)
        return closing - timedelta(minutes=1)


def next_allowed(at: datetime, timezone: str, start_hour: int, end_hour: int) -> datetime:
    """The first moment at or after ``at`` inside [start_hour, end_hour) local time, in UTC."""
    return CallingHours(time(start_hour), time(end_hour)).next_allowed(at, timezone)


@dataclass(frozen=True)
class CallPolicy:
    """The window and the limits, as configured."""

    window_start_hour: int
    window_end_hour: int
    calls_per_day: int
    calls_per_week: int
    retry_backoff: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> CallPolicy:
        return cls(
            window_start_hour=settings.calling_window_start_hour,
            window_end_hour=settings.calling_window_end_hour,
            calls_per_day=settings.calls_per_day,
            calls_per_week=settings.calls_per_week,
            retry_backoff=timedelta(seconds=settings.call_retry_backoff_s),
        )

    def next_allowed(self, at: datetime, timezone: str) -> datetime:
        """The first moment at or after ``at`` inside the calling window, in UTC."""
        return next_allowed(at, timezone, self.window_start_hour, self.window_end_hour)

    @property
    def window(self) -> CallingHours:
        """The configured window, for reminders whose clinic set no hours of its own."""
        return CallingHours(time(self.window_start_hour), time(self.window_end_hour))

    def calling_hours(self, facts: Mapping[str, Any]) -> CallingHours:
        """The hours a reminder may call in: its clinic's, as stored with it when it was
        made (a clinic by id: ``service.clinics.clinic_facts``), else the window."""
        hours = facts.get("clinic", {}).get("calling_hours")
        return CallingHours.parse(hours["start"], hours["end"]) if hours else self.window

    def next_call_at(
        self,
        dialled: Sequence[datetime],
        now: datetime,
        timezone: str,
        expires_at: datetime | None,
        hours: CallingHours | None = None,
    ) -> datetime | None:
        """When a reminder may be called again after the calls ``dialled`` (their start
        times), or None when its limits are used up or the visit would have begun.
        ``hours``: the reminder's calling hours (default: the window)."""
        recent = sorted(at for at in dialled if at > now - WEEK)
        if len(recent) >= self.calls_per_week:
            return None
        earliest = now + self.retry_backoff
        today = [at for at in recent if at > now - DAY]
        if len(today) >= self.calls_per_day:
            earliest = max(earliest, today[-self.calls_per_day] + DAY)
        retry_at = (hours or self.window).next_allowed(earliest, timezone)
        if expires_at is not None and retry_at >= expires_at:
            return None
        return retry_at

    def first_call_from(
        self,
        dialled: Sequence[datetime],
        earliest: datetime,
        timezone: str,
        expires_at: datetime | None,
        hours: CallingHours | None = None,
    ) -> datetime | None:
        """The first moment at or after ``earliest`` a planned call (an escalation step)
        may be placed after the calls ``dialled``: one that would break a limit waits for
        the moment it no longer does, inside the hours. None if that is at or after
        ``expires_at`` (the visit has begun)."""
        at = earliest
        # Each pass moves ``at`` later past one obstacle; a handful always settle it.
        for _ in range(4 * (self.calls_per_week + self.calls_per_day) + 4):
            before = sorted(call for call in dialled if call <= at)
            week = [call for call in before if call > at - WEEK]
            day = [call for call in week if call > at - DAY]
            if len(week) >= self.calls_per_week:
                moved = week[-self.calls_per_week] + WEEK
            elif len(day) >= self.calls_per_day:
                moved = day[-self.calls_per_day] + DAY
            elif before and at < before[-1] + self.retry_backoff:
                moved = before[-1] + self.retry_backoff
            else:
                moved = (hours or self.window).next_allowed(at, timezone)
                if moved == at:
                    break
            at = moved
            if expires_at is not None and at >= expires_at:
                return None
        if expires_at is not None and at >= expires_at:
            return None
        return at


def key_action(kind: str, digit: str) -> str | None:
    """What pressing ``digit`` does on a call about ``kind`` (None: nothing)."""
    return (KEYPAD.get(kind, {}) | CALL_KEYS).get(digit)


def call_actions(kind: str) -> tuple[str, ...]:
    """The actions a call about ``kind`` takes, by key or by voice."""
    return tuple(dict.fromkeys((KEYPAD.get(kind, {}) | CALL_KEYS).values()))


def reply_action(kind: str, language: str, digit: str, speech: str) -> str | None:
    """What a patient's answer on a call does: the key if one was pressed, else the
    spoken words (``templates.replies``): "yes" does what 1 does. None: nothing."""
    if digit:
        return key_action(kind, digit)
    return heard_action(language, speech, call_actions(kind)) if speech else None


@dataclass(frozen=True)
class SpeechInput:
    """How a call's menu listens for words: Twilio's language tag and hints."""

    language: str
    hints: str


def speech_input(kind: str, language: str) -> SpeechInput | None:
    """None where Twilio has no speech recognition for the language: keys only."""
    profile = load_profile(language)
    if profile is None or profile.speech_language is None:
        return None
    return SpeechInput(profile.speech_language, speech_hints(language, call_actions(kind)))


# -- the never-call list ------------------------------------------------------------------

KEYPAD_SOURCE = "keypad"
"""The patient pressed the opt-out key on a call: their own wish."""
SMS_SOURCE = "sms"
"""The patient replied STOP (or another opt-out keyword) to a text: their own wish too."""
PATIENT_SOURCES = frozenset({KEYPAD_SOURCE, SMS_SOURCE})
"""Opt-outs the patient set themselves: only an admin, or the patient's own START, lifts them."""
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
"""Twilio's default message keywords (its Advanced Opt-Out guide, 2026, which added REVOKE
and OPTOUT): a reply of exactly one of them (any case) opts the number out of, or back
into, texts; Tellwell keeps one list for calls and texts, so it is not called either."""
API_SOURCE = "api"
"""A scheduling system (or an admin) set it through ``POST /v1/opt-outs``."""
OPT_OUT_HASH_PURPOSE = "opt-out hash"
"""Separates the opt-out hash key from every other use of the signing key."""
LEGACY_HASH_PREFIX = "tellwell.opt-out:"
"""Before migration 0004 numbers were kept as a plain SHA-256 of this prefix + the number."""


def legacy_phone_hash(phone: str) -> str:
    """How a number was kept before the hash was keyed: guessable, only ever read now."""
    return hashlib.sha256(f"{LEGACY_HASH_PREFIX}{phone}".encode()).hexdigest()


class NeverCallList:
    """The opt-out list: numbers that are never dialled, kept only as a keyed hash.

    Phone numbers are few enough to try them all, so a plain hash of one is as good as the
    number to whoever reads the table. Each number is kept as an HMAC-SHA256 under a secret
    derived from the signing key instead. Rows from before that change hold the old plain
    hash; a lookup that misses the keyed hash tries the old one and rewrites a row it finds
    to the keyed hash, so an old opt-out still blocks calls and soon reads like a new one.

    Who may lift an opt-out follows who set it: a patient's own (keypad) only an admin, with
    a reason for the audit log; one set through the API the key that set it, or an admin.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> NeverCallList:
        return cls(settings.derived_secret(OPT_OUT_HASH_PURPOSE))

    def phone_hash(self, phone: str) -> str:
        """How ``phone`` is kept on the list (and named in the audit log): never in the clear."""
        return hmac.new(self._secret, phone.encode(), hashlib.sha256).hexdigest()

    def entry(self, session: Session, phone: str) -> OptOut | None:
        """The list's row for ``phone``, an old plain-hash row rewritten to the keyed hash."""
        keyed = self.phone_hash(phone)
        row = session.get(OptOut, keyed)
        if row is not None:
            return row
        legacy = session.get(OptOut, legacy_phone_hash(phone))
        if legacy is None:
            return None
        session.expunge(legacy)
        session.execute(
            update(OptOut)
            .where(OptOut.phone_hash == legacy.phone_hash)
            .values(phone_hash=keyed)
            .execution_options(synchronize_session=False)
        )
        # Read again even if another transaction moved the row first: it is keyed now.
        return session.get(OptOut, keyed)

    def blocks(self, session: Session, phone: str) -> bool:
        return self.entry(session, phone) is not None

    def add(self, session: Session, phone: str, source: str, key_id: str | None = None) -> bool:
        """Put ``phone`` on the list; False if it was already there.

        A patient's own opt-out outranks one a scheduler set: pressing the key on a number
        already listed through the API makes it the patient's, so only an admin can lift it.
        """
        row = self.entry(session, phone)
        if row is None:
            session.add(
                OptOut(phone_hash=self.phone_hash(phone), source=source, set_by_key_id=key_id)
            )
            return True
        if source in PATIENT_SOURCES and row.source not in PATIENT_SOURCES:
            row.source, row.set_by_key_id = source, None
        return False

    def lift_by_patient(self, session: Session, phone: str) -> bool:
        """The patient texted START: lift their own opt-out (by key or by text); one a
        scheduler set stays, as that is the clinic's decision. False if none was lifted."""
        row = self.entry(session, phone)
        if row is None or row.source not in PATIENT_SOURCES:
            return False
        session.delete(row)
        session.execute(delete(OptOut).where(OptOut.phone_hash == legacy_phone_hash(phone)))
        return True

    def lift(self, session: Session, phone: str, caller: Caller, reason: str | None) -> bool:
        """Take ``phone`` off the list if ``caller`` may; False if it was not on it.

        Problem 403 for a caller who may not; 422 on ``reason`` for an admin lifting a
        patient's own opt-out without one.
        """
        row = self.entry(session, phone)
        if row is None:
            return False
        admin = caller.role == Role.ADMIN
        if row.source in PATIENT_SOURCES:
            if not admin:
                raise Problem(
                    403,
                    "Forbidden",
                    "The patient opted out themselves (by keypad); only an admin key can "
                    "lift it, with a reason.",
                )
            if not reason:
                raise ValidationProblem(
                    [FieldError("reason", "is required to lift a patient's own opt-out")]
                )
        elif not admin and row.set_by_key_id != caller.id:
            raise Problem(
                403,
                "Forbidden",
                "This opt-out was set by another key; only that key or an admin can lift it.",
            )
        session.delete(row)
        # A plain-hash twin left by a race with its rewrite would block the number again.
        session.execute(delete(OptOut).where(OptOut.phone_hash == legacy_phone_hash(phone)))
        return True
