"""Follow-up answers (issue 14): what a key pressed on a ``follow_up`` call means, the
answer recorded on the reminder, and a clinic's weekly counts.

``answer_for`` is the one place a key becomes an answer (``templates.FOLLOW_UP_ANSWERS``,
the table the call's words are written from): a spoken reply mapped to its key goes
through it too. A low score (1 or 2 of 5) or a "no" moves the reminder to
``needs_staff``, so a person follows it up; ``follow_up_needs_staff`` keeps that once
staff have handled it. The counts name no patient: they are what the console's chart
and ``GET /v1/clinics/{id}/follow-ups`` show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import timestamp
from service.escalation import policy_of
from service.models import Attempt, Clinic, Reminder, Status, advance
from service.schemas import FollowUpQuestion, FollowUpWeek
from templates import DEFAULT_FOLLOW_UP_QUESTION, FOLLOW_UP_ANSWERS
from templates.replies import heard_action

NEEDS_STAFF_ANSWERS: dict[str, frozenset[str]] = {
    FollowUpQuestion.VISIT_RATING: frozenset({"1", "2"}),
    FollowUpQuestion.RESOLVED: frozenset({"no"}),
}
"""Answers a person should follow up: a poor visit, a problem not solved."""
NOT_SENT = frozenset(
    {Status.SCHEDULED, Status.RENDERING, Status.READY, Status.CANCELLED, Status.EXPIRED}
)
"""Statuses of a follow-up that never went out: not counted as asked."""
WEEKS_DEFAULT = 12


@dataclass(frozen=True)
class Answer:
    """A patient's answer to a follow-up question."""

    question: str
    value: str
    """1-5 for visit_rating, yes or no for resolved."""
    needs_staff: bool


def question_of(reminder: Reminder) -> str:
    """The question a follow-up reminder asked (its facts say; older rows: the default)."""
    follow_up = reminder.facts.get("follow_up") or {}
    return str(follow_up.get("question") or DEFAULT_FOLLOW_UP_QUESTION)


def answer_for(question: str, digit: str) -> Answer | None:
    """What pressing ``digit`` answers to ``question``; None: not an answer key."""
    value = FOLLOW_UP_ANSWERS.get(question, {}).get(digit)
    if value is None:
        return None
    return Answer(question, value, value in NEEDS_STAFF_ANSWERS.get(question, frozenset()))


SPOKEN_YES_NO = {"confirm": "1", "cancel": "2"}
"""To a yes/no question, the language's confirm words ("yes", "sí") are key 1 and its
cancel words ("no") key 2 (``templates.replies``)."""


def answer_heard(reminder: Reminder, digit: str, speech: str) -> Answer | None:
    """A follow-up's answer, pressed or said: a number Twilio wrote as a digit ("4"), or
    yes or no to a yes/no question. None: not a follow-up, or no answer in it."""
    if reminder.kind != "follow_up":
        return None
    question = question_of(reminder)
    key = digit
    if not key and speech:
        said = speech.strip().strip(".!?¡¿。").strip()
        if len(said) == 1 and said.isdigit():
            key = said
        elif question == FollowUpQuestion.RESOLVED:
            heard = heard_action(reminder.language, speech, tuple(SPOKEN_YES_NO))
            key = SPOKEN_YES_NO.get(heard or "", "")
    return answer_for(question, key) if key else None


def describe(answer: Answer) -> str:
    """The answer in an event's words: no name, no number."""
    rating = answer.question == FollowUpQuestion.VISIT_RATING
    said = f"{answer.value} of 5" if rating else answer.value
    staff = "; needs staff" if answer.needs_staff else ""
    return f"follow-up answered ({answer.question}): {said}{staff}"


def describe_answer(reminder: Reminder) -> str:
    """A recorded answer in the event's words, for the staff worklist's item."""
    question = reminder.follow_up_question or question_of(reminder)
    return describe(Answer(question, reminder.follow_up_answer or "", needs_staff=False))


def follow_up_out(reminder: Reminder) -> dict[str, Any] | None:
    """The ``follow_up`` block of a reminder's API answer and its webhooks."""
    if reminder.follow_up_question is None:
        return None
    return {
        "question": reminder.follow_up_question,
        "answer": reminder.follow_up_answer,
        "answered_at": reminder.follow_up_answered_at,
        "needs_staff": bool(reminder.follow_up_needs_staff),
    }


def record_answer(
    session: Session, reminder: Reminder, attempt: Attempt, answer: Answer, now: datetime
) -> bool:
    """Keep the first answer on the reminder: ``confirmed``, or ``needs_staff`` for a low
    one, with ``data.follow_up`` in the status webhook. False when it was answered (or
    moved on) already: a repeated key changes nothing."""
    status = Status.NEEDS_STAFF if answer.needs_staff else Status.CONFIRMED
    moved = advance(
        session,
        reminder.id,
        status,
        expect=Status.DELIVERED,
        detail=describe(answer),
        step=attempt.step if policy_of(reminder.facts) is not None else None,
        webhook_data={
            "follow_up": {
                "question": answer.question,
                "answer": answer.value,
                "answered_at": timestamp(now),
                "needs_staff": answer.needs_staff,
            }
        },
        follow_up_answer=answer.value,
        follow_up_answered_at=now,
        follow_up_needs_staff=answer.needs_staff,
        lease_until=None,
    )
    if moved:
        attempt.outcome = Status.CONFIRMED  # the patient answered on this call
    return moved


# -- weekly counts --------------------------------------------------------------------------


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def first_day(now: datetime, zone: ZoneInfo, weeks: int) -> datetime:
    """Monday 00:00, local time, of the oldest of the last ``weeks`` ISO weeks."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday() + 7 * (weeks - 1))
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def weekly_counts(
    session: Session, clinic: Clinic, now: datetime, weeks: int = WEEKS_DEFAULT
) -> list[FollowUpWeek]:
    """Per ISO week (of the send time, in the clinic's zone) and question: how many were
    sent and answered, each answer's count, the mean score and how many went to staff;
    newest week first. Counts only: no row names a patient."""
    zone = ZoneInfo(clinic.timezone)
    rows = session.execute(
        select(
            Reminder.send_at,
            Reminder.follow_up_question,
            Reminder.follow_up_answer,
            Reminder.follow_up_needs_staff,
        ).where(
            Reminder.clinic_id == clinic.id,
            Reminder.follow_up_question.is_not(None),
            Reminder.send_at >= first_day(now, zone, weeks),
            Reminder.send_at <= now,
            Reminder.status.not_in(sorted(NOT_SENT)),
        )
    ).all()
    groups: dict[tuple[str, str], list[tuple[str | None, bool | None]]] = {}
    for send_at, question, answer, needs_staff in rows:
        key = (iso_week(send_at, zone), str(question))
        groups.setdefault(key, []).append((answer, needs_staff))
    out: list[FollowUpWeek] = []
    for (week, question), answers in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1])):
        given = Counter(a for a, _ in answers if a is not None)
        scores = [int(a) for a in given.elements()] if question == "visit_rating" else []
        out.append(
            FollowUpWeek(
                week=week,
                question=FollowUpQuestion(question),
                sent=len(answers),
                answered=sum(given.values()),
                answers={value: given[value] for value in _values(question)},
                average=round(sum(scores) / len(scores), 2) if scores else None,
                needs_staff=sum(1 for _, flagged in answers if flagged),
            )
        )
    out.sort(key=lambda w: w.week, reverse=True)  # stable: questions stay in order
    return out


def _values(question: str) -> list[str]:
    return list(FOLLOW_UP_ANSWERS.get(question, {}).values())
