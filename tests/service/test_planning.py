"""The planner on its own: daylight-saving days, calling-hour edges, the past, channels.

The planner is a pure function of the visit, the clinic and ``now``, so each case states
its own ``now`` instead of moving a clock. New York changes clocks on 2026-03-08 (02:00
EST becomes 03:00 EDT) and 2026-11-01 (02:00 EDT becomes 01:00 EST).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.call_policy import CallingHours
from service.planning import (
    Offset,
    PlannedReminder,
    first_channel,
    notice_time,
    plan_reminders,
    schedule_offsets,
)

NEW_YORK = "America/New_York"
ZONE = ZoneInfo(NEW_YORK)
CLINIC_HOURS = CallingHours.parse("08:00", "21:00")
ALL_DAY = CallingHours(time(0), time(23, 59))
"""No calling-hour move, to see the offsets alone."""
DAY_BEFORE_AT_10 = Offset(days_before=1, at=time(10))
TWO_HOURS_BEFORE = Offset(hours_before=2)


def local(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=ZONE)  # type: ignore[misc]


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


def times(planned: list[PlannedReminder]) -> list[datetime]:
    return [p.send_at for p in planned]


WEEK_BEFORE = utc(2026, 2, 1)


@pytest.mark.parametrize(
    ("visit", "expected"),
    [
        # The day before is still winter time (EST, UTC-5): 10:00 local is 15:00 UTC.
        (local(2026, 3, 8, 11, 0), utc(2026, 3, 7, 15, 0)),
        # The day before is the change day, after 03:00 (EDT, UTC-4): 14:00 UTC.
        (local(2026, 3, 9, 9, 0), utc(2026, 3, 8, 14, 0)),
        # Autumn: the day before is still summer time (EDT): 14:00 UTC.
        (local(2026, 11, 1, 9, 0), utc(2026, 10, 31, 14, 0)),
        # The day before is the change day, after 01:00 again (EST): 15:00 UTC.
        (local(2026, 11, 2, 9, 0), utc(2026, 11, 1, 15, 0)),
    ],
)
def test_a_day_before_at_ten_is_ten_on_the_local_clock_across_daylight_saving(
    visit: datetime, expected: datetime
) -> None:
    planned = plan_reminders(visit, NEW_YORK, [DAY_BEFORE_AT_10], CLINIC_HOURS, WEEK_BEFORE)
    assert times(planned) == [expected]
    assert planned[0].send_at.astimezone(ZONE).time() == time(10)


def test_hours_before_count_elapsed_hours_across_the_spring_change() -> None:
    visit = local(2026, 3, 8, 4, 0)  # 04:00 EDT = 08:00 UTC, two hours after the change
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], ALL_DAY, WEEK_BEFORE)
    assert times(planned) == [utc(2026, 3, 8, 6, 0)]
    # Two real hours, though the wall clock moved three: 01:00 EST.
    assert planned[0].send_at.astimezone(ZONE).strftime("%H:%M %Z") == "01:00 EST"


def test_hours_before_count_elapsed_hours_across_the_autumn_change() -> None:
    visit = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30 of the night
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], ALL_DAY, WEEK_BEFORE)
    assert times(planned) == [utc(2026, 11, 1, 4, 30)]
    assert planned[0].send_at.astimezone(ZONE).strftime("%H:%M %Z") == "00:30 EDT"


def test_an_early_visit_is_reminded_at_the_last_allowed_minute_the_evening_before() -> None:
    # 07:30 visit, two hours before is 05:30: outside 08:00-21:00, so the reminder moves
    # earlier, never later (08:00 would be after the visit), to 20:59 the evening before.
    visit = local(2026, 6, 10, 7, 30)
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], CLINIC_HOURS, WEEK_BEFORE)
    assert times(planned) == [local(2026, 6, 9, 20, 59).astimezone(UTC)]


def test_an_early_visit_moved_into_the_past_gets_no_reminder() -> None:
    visit = local(2026, 6, 10, 7, 30)
    now = local(2026, 6, 9, 22, 0)  # booked late in the evening before
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], CLINIC_HOURS, now)
    assert planned == []


def test_the_moved_reminder_across_the_spring_change_lands_on_the_local_evening() -> None:
    visit = local(2026, 3, 8, 7, 30)  # EDT; two hours before is 04:30 EDT = 03:30 EST
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], CLINIC_HOURS, WEEK_BEFORE)
    assert times(planned) == [utc(2026, 3, 8, 1, 59)]  # 20:59 EST on the 7th


@pytest.mark.parametrize(
    ("offset_hours", "expected_local"),
    [
        (3, time(8, 0)),  # 11:00 visit, 08:00 is the first allowed minute: kept
        (2, time(9, 0)),
    ],
)
def test_a_time_inside_the_hours_is_kept(offset_hours: int, expected_local: time) -> None:
    visit = local(2026, 6, 10, 11, 0)
    planned = plan_reminders(
        visit, NEW_YORK, [Offset(hours_before=offset_hours)], CLINIC_HOURS, WEEK_BEFORE
    )
    assert [p.send_at.astimezone(ZONE).time() for p in planned] == [expected_local]


def test_closing_time_itself_is_outside_the_hours() -> None:
    visit = local(2026, 6, 10, 23, 0)  # two hours before is 21:00, the closing minute
    planned = plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], CLINIC_HOURS, WEEK_BEFORE)
    assert [p.send_at.astimezone(ZONE).time() for p in planned] == [time(20, 59)]


def test_two_offsets_landing_on_the_same_minute_give_one_reminder() -> None:
    visit = local(2026, 6, 10, 7, 30)
    late_evening = Offset(days_before=1, at=time(22, 0))
    planned = plan_reminders(
        visit, NEW_YORK, [late_evening, TWO_HOURS_BEFORE], CLINIC_HOURS, WEEK_BEFORE
    )
    assert [(p.slot, p.send_at.astimezone(ZONE).time()) for p in planned] == [(0, time(20, 59))]


def test_only_offsets_still_in_the_future_are_planned_each_in_its_slot() -> None:
    visit = local(2026, 6, 10, 15, 0)
    now = local(2026, 6, 10, 9, 0)  # the day-before time has passed
    offsets = [Offset(days_before=3, at=time(10)), DAY_BEFORE_AT_10, TWO_HOURS_BEFORE]
    planned = plan_reminders(visit, NEW_YORK, offsets, CLINIC_HOURS, now)
    assert [(p.slot, p.send_at) for p in planned] == [(2, local(2026, 6, 10, 13, 0))]


def test_a_visit_that_has_begun_plans_nothing() -> None:
    visit = local(2026, 6, 10, 15, 0)
    for now in (visit, visit + timedelta(minutes=1), visit + timedelta(days=3)):
        assert plan_reminders(visit, NEW_YORK, [TWO_HOURS_BEFORE], ALL_DAY, now) == []


def test_the_schedule_is_read_from_the_clinics_json() -> None:
    schedule = {"appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]}
    assert schedule_offsets(schedule) == [Offset(days_before=3, at=time(10)), TWO_HOURS_BEFORE]
    assert schedule_offsets({}) == []
    assert schedule_offsets(None) == []


def test_the_first_channel_the_patient_can_be_reached_on_is_used() -> None:
    phone_only = {"phone": "+13125550123", "app_recipient_id": None}
    app_only = {"phone": None, "app_recipient_id": "patient-7"}
    assert first_channel(["app", "phone"], phone_only) == "phone"
    assert first_channel(["app", "phone"], app_only) == "app"
    assert first_channel(["phone"], app_only) is None


def test_a_notice_goes_now_inside_the_hours_next_morning_outside_and_never_too_late() -> None:
    visit = local(2026, 6, 11, 15, 0)
    afternoon = local(2026, 6, 10, 14, 0)
    night = local(2026, 6, 10, 23, 0)
    assert notice_time(visit, NEW_YORK, CLINIC_HOURS, afternoon) == afternoon
    assert notice_time(visit, NEW_YORK, CLINIC_HOURS, night) == local(2026, 6, 11, 8, 0)
    early_visit = local(2026, 6, 11, 7, 30)
    assert notice_time(early_visit, NEW_YORK, CLINIC_HOURS, night) is None
