"""The calling window: no phone call outside set local hours in the patient's time zone.

A call at 3 a.m. wakes and frightens people; a time outside the window moves to the next
allowed moment, computed on the local clock so daylight-saving days come out right.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def next_allowed(at: datetime, timezone: str, start_hour: int, end_hour: int) -> datetime:
    """The first moment at or after ``at`` inside [start_hour, end_hour) local time, in UTC."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    opens, closes = time(start_hour), time(end_hour)
    if opens <= local.time() < closes:
        return at.astimezone(UTC)
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
