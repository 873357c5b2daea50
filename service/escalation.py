"""Escalation: what follows a first contact that got no answer, and when the loop stops.

A reminder's first contact is on its own ``channel`` at ``send_at``, as it always was. A
policy (the clinic's, or the reminder's own, which wins) lists the steps that follow, in
order, each with its wait: call again, send to the app, text a listen link, hand to the
clinic's staff. Without a policy (or with no steps) nothing follows: today's behaviour,
retries after a busy line included.

- **Answers stop the loop**: a key pressed on a call, the listen page played to the end, a
  staff member marking the reminder handled; a call a person answered counts as heard, as
  it always did. A voicemail left is delivered but unconfirmed: the policy's
  ``on_voicemail`` says whether to stop there or go on.
- **Limits across steps**: a phone step is a call like any other, counted in the per-day
  and per-week limits over every call of the reminder. A step that would break a limit
  *waits* for the first moment it no longer does (inside the calling hours); it is
  *skipped*, with its reason on the record, only when that moment is at or after the
  visit, or when it cannot run at all (no phone number for a call or a text, no app id for
  the app, no call audio on an app reminder). With a policy, a busy or unanswered call is
  not retried on its own: the policy's phone steps are the retries.
- **Hours**: calls and texts only inside the reminder's calling hours; the app and the
  staff hand-off at any hour.
- **Texts that never arrive**: Twilio reports a text ``undelivered`` or ``failed`` after
  it took it; then the next step runs without its wait (the patient had nothing to
  answer), rather than waiting as if the text had been delivered.

- **What an app or text step says**: the app, and the listen page a text links to, get
  the ``app`` variant; a phone reminder's is rendered when its first such step runs
  (``workers.pipeline``), a failed render being that step's failure.

Every step that runs, waits or is skipped is an event on the reminder (``step`` set), and
a status webhook (``reminder.escalated``) when the reminder has a ``callback_url``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.call_policy import CallingHours, CallPolicy
from service.errors import FieldError

PHONE, APP, SMS, STAFF = "phone", "app", "sms", "staff"
FIRST_CONTACT = 0
"""The step number of the reminder's own first contact."""
TEXT_STATUSES = {"queued": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2}
"""A text's delivery as Twilio reports it (``MessageStatus``), in the order it moves; the
last three are final and the first of them to come stands."""
TEXT_UNDELIVERED = frozenset({"undelivered", "failed"})


@dataclass(frozen=True)
class Step:
    number: int
    """1 for the policy's first step; 0 is the first contact."""
    channel: str
    wait: timedelta

    def label(self) -> str:
        return f"step {self.number} ({self.channel})"


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]
    continue_after_voicemail: bool

    def step(self, number: int) -> Step | None:
        return self.steps[number - 1] if 1 <= number <= len(self.steps) else None


def policy_of(facts: Mapping[str, Any]) -> Policy | None:
    """A reminder's policy: its own, else its clinic's; None when nothing follows."""
    raw = (
        facts["escalation"] if "escalation" in facts else facts.get("clinic", {}).get("escalation")
    )
    if not raw or not raw.get("steps"):
        return None
    steps = tuple(
        Step(number, step["channel"], timedelta(minutes=step["wait_minutes"]))
        for number, step in enumerate(raw["steps"], start=1)
    )
    return Policy(steps, raw.get("on_voicemail") == "continue")


def channel_of(reminder_channel: str, policy: Policy | None, number: int) -> str:
    """The channel a step uses: the reminder's own for the first contact."""
    step = policy.step(number) if policy is not None else None
    return step.channel if step is not None else reminder_channel


def cannot_run(channel: str, reminder_channel: str, patient: Mapping[str, Any]) -> str | None:
    """Why a step cannot run for this reminder at all; None when it can."""
    if channel == PHONE and not patient.get("phone"):
        return "needs patient.phone"
    if channel == PHONE and reminder_channel != PHONE:
        return "needs channel phone: the call audio is made for the reminder's channel"
    if channel == SMS and not patient.get("phone"):
        return "needs patient.phone"
    if channel == APP and not patient.get("app_recipient_id"):
        return "needs patient.app_recipient_id"
    return None


def check_policy(facts: Mapping[str, Any], reminder_channel: str) -> list[FieldError]:
    """A reminder's own policy, against its contacts: a 422 names each step that could
    never run (a clinic's policy is checked step by step at run time instead)."""
    raw = facts.get("escalation") or {}
    errors = []
    for index, step in enumerate(raw.get("steps", [])):
        reason = cannot_run(step["channel"], reminder_channel, facts["patient"])
        if reason is not None:
            errors.append(FieldError(f"escalation.steps.{index}.channel", reason))
    return errors


@dataclass(frozen=True)
class NextStep:
    """What comes after a step without an answer: the next step that can run and when, or
    None when no step is left; with the steps skipped on the way and why."""

    step: Step | None
    due: datetime | None
    skipped: list[tuple[Step, str]]


def plan_next(
    policy: Policy,
    after: int,
    *,
    now: datetime,
    reminder_channel: str,
    patient: Mapping[str, Any],
    dialled: Sequence[datetime],
    expires_at: datetime | None,
    hours: CallingHours,
    calls: CallPolicy,
    at_once: bool = False,
) -> NextStep:
    """The step after step ``after``: a pure function of the policy, the calls placed so
    far, the hours and the limits (no database, no clock), so it is tested case by case.
    ``at_once``: without the step's wait, which is the patient's time to answer the step
    before; a text that never arrived gives them none (still inside hours and limits)."""
    skipped: list[tuple[Step, str]] = []
    timezone = patient["timezone"]
    for step in policy.steps[after:]:
        reason = cannot_run(step.channel, reminder_channel, patient)
        due: datetime | None = None
        if reason is None:
            earliest = now if at_once else now + step.wait
            if step.channel == PHONE:
                due = calls.first_call_from(dialled, earliest, timezone, expires_at, hours)
            elif step.channel == SMS:
                due = hours.next_allowed(earliest, timezone)
            else:
                due = earliest
            if due is not None and expires_at is not None and due >= expires_at:
                due = None
            if due is None:
                reason = "no time left inside the hours and call limits before the visit"
        if due is not None:
            return NextStep(step, due, skipped)
        skipped.append((step, reason or "cannot run"))
    return NextStep(None, None, skipped)
