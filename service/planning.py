"""When to remind a patient of a visit: a pure function of the visit, the clinic and now.

A clinic's schedule (``Clinic.schedule["appointment_reminder"]``) is an ordered list of
offsets before the visit, each ``{"days_before": N, "at": "HH:MM"}`` (that local time on
the N-th calendar day before, in the patient's time zone, so daylight-saving days come out
right) or ``{"hours_before": N}`` (N elapsed hours, whatever the wall clock does).

Each offset gives at most one reminder:

- a time outside the clinic's calling hours moves *earlier*, to the last allowed minute
  before it (``CallingHours.last_allowed``): a reminder after the visit is useless, and
  one at the door too late to act on;
- a time that is then in the past (or not before the visit) is dropped, never sent late;
- two offsets that land on the same minute give one reminder;
- a visit that has begun gets none.

Nothing here reads the database or the clock, so the planner is fast and testable; the
writer that applies a plan is ``service.appointments``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.call_policy import CallingHours

REMINDER_KIND = "appointment_reminder"
"""The schedule entry (and the message kind) of planned reminders."""


@dataclass(frozen=True)
class Offset:
    """One entry of a clinic's schedule: days before at a local time, or hours before."""

    days_before: int | None = None
    at: time | None = None
    hours_before: int | None = None

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Offset:
        if "hours_before" in entry:
            return cls(hours_before=int(entry["hours_before"]))
        return cls(days_before=int(entry["days_before"]), at=time.fromisoformat(entry["at"]))

    def moment(self, start: datetime, timezone: str) -> datetime:
        """The moment this offset names for a visit at ``start`` (aware, any zone)."""
        if self.hours_before is not None:
            # In UTC: arithmetic on a zoned datetime would count wall-clock hours.
            return start.astimezone(UTC) - timedelta(hours=self.hours_before)
        assert self.days_before is not None and self.at is not None
        zone = ZoneInfo(timezone)
        day = start.astimezone(zone).date() - timedelta(days=self.days_before)
        return datetime.combine(day, self.at, tzinfo=zone)


def schedule_offsets(schedule: Mapping[str, Any] | None, kind: str = REMINDER_KIND) -> list[Offset]:
    """The offsets a clinic's stored schedule gives for ``kind`` (none when it has none)."""
    return [Offset.from_json(entry) for entry in (schedule or {}).get(kind, [])]


@dataclass(frozen=True)
class PlannedReminder:
    slot: int
    """The offset's position in the schedule: a reminder re-planned keeps its slot."""
    send_at: datetime


def plan_reminders(
    start: datetime,
    timezone: str,
    offsets: Sequence[Offset],
    hours: CallingHours,
    now: datetime,
) -> list[PlannedReminder]:
    """The reminders still worth sending for a visit at ``start``, in schedule order."""
    if start <= now:
        return []
    planned: list[PlannedReminder] = []
    taken: set[datetime] = set()
    for slot, offset in enumerate(offsets):
        send_at = hours.last_allowed(offset.moment(start, timezone), timezone)
        if send_at < now or send_at >= start or send_at in taken:
            continue
        taken.add(send_at)
        planned.append(PlannedReminder(slot=slot, send_at=send_at))
    return planned


def first_channel(channels: Iterable[str], patient: Mapping[str, Any]) -> str | None:
    """The first of the clinic's channels the patient can be reached on (None: none)."""
    contact = {"phone": patient.get("phone"), "app": patient.get("app_recipient_id")}
    return next((channel for channel in channels if contact.get(channel)), None)


def notice_time(
    start: datetime, timezone: str, hours: CallingHours, now: datetime
) -> datetime | None:
    """When to tell a patient that a visit changed or was cancelled: now, or the next
    allowed minute; None when that would be at or after ``start`` (too late to matter)."""
    send_at = hours.next_allowed(now, timezone)
    return send_at if send_at < start else None
