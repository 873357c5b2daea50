"""The escalation rules case by case: which step comes next and when, inside the calling
hours and the call limits (pure functions: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from service.call_policy import CallingHours, CallPolicy
from service.escalation import Policy, channel_of, plan_next, policy_of

CHICAGO = "America/Chicago"
HOURS = CallingHours(time(9), time(18))
LIMITS = CallPolicy(8, 21, calls_per_day=1, calls_per_week=3, retry_backoff=timedelta(hours=1))
# 10:00 in Chicago (CST, UTC-6) on a Wednesday.
NOW = datetime(2027, 1, 6, 16, 0, tzinfo=UTC)
PATIENT = {"phone": "+13125550123", "timezone": CHICAGO}


def policy(*steps: tuple[str, int], on_voicemail: str = "stop") -> Policy:
    raw = [{"channel": channel, "wait_minutes": wait} for channel, wait in steps]
    found = policy_of({"clinic": {"escalation": {"steps": raw, "on_voicemail": on_voicemail}}})
    assert found is not None
    return found


def plan(p: Policy, after: int = 0, **changes: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "now": NOW,
        "reminder_channel": "phone",
        "patient": PATIENT,
        "dialled": [NOW],
        "expires_at": NOW + timedelta(days=5),
        "hours": HOURS,
        "calls": LIMITS,
    }
    values.update(changes)
    return plan_next(p, after, **values)  # type: ignore[arg-type]


def test_no_policy_and_no_steps_mean_todays_behaviour() -> None:
    assert policy_of({"clinic": {"name": "x"}}) is None
    assert policy_of({"clinic": {"escalation": {"steps": []}}}) is None
    clinic_has_one = {"escalation": {"steps": [{"channel": "sms", "wait_minutes": 5}]}}
    # The reminder's own (empty) policy wins over its clinic's.
    assert policy_of({"escalation": {"steps": []}, "clinic": clinic_has_one}) is None
    assert channel_of("app", None, 0) == "app"


def test_a_text_waits_its_minutes_inside_the_hours() -> None:
    found = plan(policy(("sms", 60)))
    assert found.step is not None and found.step.channel == "sms"
    assert found.due == NOW + timedelta(minutes=60)
    late = plan(policy(("sms", 9 * 60)))  # 19:00 local: after the hours close
    assert late.due == datetime(2027, 1, 7, 15, 0, tzinfo=UTC)  # 09:00 the next morning


def test_a_call_step_waits_for_the_daily_limit_then_the_hours() -> None:
    found = plan(policy(("phone", 180)))
    # 3 h asked; one call a day: 24 h after the first call, 10:00 local, inside the hours.
    assert found.due == NOW + timedelta(days=1)
    two_a_day = CallPolicy(8, 21, 2, 3, timedelta(hours=1))
    assert plan(policy(("phone", 180)), calls=two_a_day).due == NOW + timedelta(hours=3)


def test_a_call_step_waits_for_the_weekly_limit() -> None:
    three = [NOW - timedelta(days=5), NOW - timedelta(days=2), NOW]
    found = plan(policy(("phone", 0)), dialled=three, expires_at=NOW + timedelta(days=10))
    # The week's third call was 5 days ago + now...: the next may come 7 days after the first.
    assert found.due == NOW - timedelta(days=5) + timedelta(days=7)


def test_a_step_past_the_visit_is_skipped_with_its_reason_and_the_next_one_runs() -> None:
    found = plan(
        policy(("phone", 60), ("app", 60), ("sms", 60)),
        expires_at=NOW + timedelta(hours=5),
    )
    assert [(step.channel, why) for step, why in found.skipped] == [
        ("phone", "no time left inside the hours and call limits before the visit"),
        ("app", "needs patient.app_recipient_id"),
    ]
    assert found.step is not None and found.step.number == 3


def test_nothing_left_ends_the_loop() -> None:
    found = plan(policy(("sms", 60)), after=1)
    assert found.step is None and found.due is None and found.skipped == []


def test_a_call_step_on_an_app_reminder_cannot_run() -> None:
    found = plan(policy(("phone", 0), ("staff", 30)), reminder_channel="app")
    (skipped,) = found.skipped
    assert skipped[1].startswith("needs channel phone")
    assert found.step is not None and found.step.channel == "staff"
    assert found.due == NOW + timedelta(minutes=30)  # staff at any hour
