"""The phone-call rules, in one place: when a call may be placed, how often, to whom, and
what a key pressed on it means.

- **Window**: no call outside set local hours in the patient's time zone. A call at 3 a.m.
  wakes and frightens people; a time outside the window moves to the next allowed moment,
  computed on the local clock so daylight-saving days come out right.
- **Limits**: at most ``calls_per_day`` calls for one reminder in any 24 hours and
  ``calls_per_week`` in any 7 days, at least ``call_retry_backoff_s`` apart, never once the
  visit has begun.
- **Opt-outs**: a number on the never-call list is never dialled; numbers are kept only as
  hashes.
- **Keypad**: what each key does on a live call (``templates.KEYPAD`` per kind, which the
  spoken menu is written from, plus ``templates.CALL_KEYS`` for every kind).

The API uses the window to set a reminder's first send time; the dispatcher, the sweeper
and Twilio's callbacks use all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from service.config import Settings
from service.models import OptOut, Status
from templates import CALL_KEYS, KEYPAD

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
KEY_STATUS = {"confirm": Status.CONFIRMED, "cancel": Status.CANCEL_REQUESTED}
"""Keys whose action settles the reminder in a status of its own."""


def next_allowed(at: datetime, timezone: str, start_hour: int, end_hour: int) -> datetime:
    """The first moment at or after ``at`` inside [start_hour, end_hour) local time, in UTC."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    opens, closes = time(start_hour), time(end_hour)
    if opens <= local.time() < closes:
        return at.astimezone(UTC)
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)


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

    def next_call_at(
        self,
        dialled: Sequence[datetime],
        now: datetime,
        timezone: str,
        expires_at: datetime | None,
    ) -> datetime | None:
        """When a reminder may be called again after the calls ``dialled`` (their start
        times), or None when its limits are used up or the visit would have begun."""
        recent = sorted(at for at in dialled if at > now - WEEK)
        if len(recent) >= self.calls_per_week:
            return None
        earliest = now + self.retry_backoff
        today = [at for at in recent if at > now - DAY]
        if len(today) >= self.calls_per_day:
            earliest = max(earliest, today[-self.calls_per_day] + DAY)
        retry_at = self.next_allowed(earliest, timezone)
        if expires_at is not None and retry_at >= expires_at:
            return None
        return retry_at


def key_action(kind: str, digit: str) -> str | None:
    """What pressing ``digit`` does on a call about ``kind`` (None: nothing)."""
    return (KEYPAD.get(kind, {}) | CALL_KEYS).get(digit)


# -- the never-call list ------------------------------------------------------------------


def phone_hash(phone: str) -> str:
    """How a number is kept on the opt-out list: never in the clear."""
    return hashlib.sha256(f"tellwell.opt-out:{phone}".encode()).hexdigest()


def opted_out(session: Session, phone: str) -> bool:
    return session.get(OptOut, phone_hash(phone)) is not None


def opt_out(session: Session, phone: str, source: str) -> bool:
    """Put ``phone`` on the never-call list; False if it was already there."""
    if opted_out(session, phone):
        return False
    session.add(OptOut(phone_hash=phone_hash(phone), source=source))
    return True


def opt_in(session: Session, phone: str) -> bool:
    """Take ``phone`` off the never-call list; False if it was not on it."""
    row = session.get(OptOut, phone_hash(phone))
    if row is None:
        return False
    session.delete(row)
    return True
