"""Escalation benchmark (issue 14): 1,000 reminders through a mixed population, the clock
moved step by step, with and without an escalation policy, in one process.

Each reminder is stored ready to call (one shared audio file: rendering is not what is
measured; the text steps' app variant is rendered once, then read from the speech cache,
as every reminder has the same facts) and goes through the real ``Pipeline.dispatch``
and ``Pipeline.settle``, the code a worker and Twilio's callbacks drive; the sweeper's
choice of what is due is the same query. Only the patient is simulated: a channel per
step answers as the patient's type would (``Population``), and a patient who reads texts
opens the listen link and plays it to the end (``Pipeline.answered``, what the listen
page's report calls). Time is an injected clock moved to the next due moment, so a week
of steps takes seconds.

Population (shares of 1,000): answers the first call and presses 1; voicemail every
time, listens to a text; never answers; busy on the first call, then answers; never
answers calls but listens to texts ("SMS only").

Printed: how many were reached and on which step, the final statuses, and the most calls
any one reminder got in any 24 hours and any 7 days against the limits (1 and 3); the
baseline is the same population without a policy (today's retries).

    .venv/bin/python bench/escalation.py [--reminders 1000] [--database-url sqlite:///...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.config import Settings  # noqa: E402
from service.db import Database  # noqa: E402
from service.models import Attempt, AudioAsset, Reminder, ReminderEvent, Role, Status  # noqa: E402
from service.security import issue_key  # noqa: E402
from workers import jobs  # noqa: E402
from workers.channels import Delivery, Outcome  # noqa: E402
from workers.pipeline import Pipeline  # noqa: E402

POLICY = {
    "steps": [
        {"channel": "phone", "wait_minutes": 180},
        {"channel": "sms", "wait_minutes": 60},
        {"channel": "staff", "wait_minutes": 240},
    ],
    "on_voicemail": "continue",
}
TYPES = {
    "answers": 0.30,
    "voicemail": 0.15,
    "never": 0.20,
    "busy_then_answers": 0.15,
    "sms_only": 0.20,
}
TIMEZONE = "America/Chicago"
START = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # a Monday, 09:00 in Chicago
LISTEN_AFTER = timedelta(minutes=20)
"""How long after a text a patient who reads texts plays the message."""
DAY, WEEK = timedelta(days=1), timedelta(days=7)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def time(self) -> float:
        return self.at.timestamp()

    def monotonic(self) -> float:
        return self.at.timestamp()


@dataclass
class Population:
    """The patients' side of every channel: what each type does on a call or a text."""

    kinds: dict[str, str]
    """reminder id -> patient type."""
    calls: Counter[str] = field(default_factory=Counter)
    listens: dict[str, datetime] = field(default_factory=dict)
    """reminder id -> when the patient will play the text's link to the end."""
    clock: Clock | None = None

    def phone(self, delivery: Delivery) -> Outcome:
        self.calls[delivery.reminder_id] += 1
        kind, nth = self.kinds[delivery.reminder_id], self.calls[delivery.reminder_id]
        ref = f"CA{delivery.attempt_id}"
        if kind == "answers" or (kind == "busy_then_answers" and nth > 1):
            return Outcome(status=Status.CONFIRMED, provider_ref=ref, answered_by="human")
        if kind == "voicemail":
            return Outcome(
                status=Status.VOICEMAIL, provider_ref=ref, answered_by="machine_end_beep"
            )
        detail = "busy" if kind == "busy_then_answers" else "no-answer"
        return Outcome(status=Status.FAILED, provider_ref=ref, detail=detail, retryable=True)

    def sms(self, delivery: Delivery) -> Outcome:
        assert self.clock is not None and delivery.text_message
        if self.kinds[delivery.reminder_id] in ("sms_only", "voicemail"):
            self.listens[delivery.reminder_id] = self.clock.now() + LISTEN_AFTER
        return Outcome(status=Status.DELIVERED, provider_ref=f"SM{delivery.attempt_id}")


class StepChannel:
    def __init__(self, name: str, send: Any) -> None:
        self.name, self._send = name, send

    def send(self, delivery: Delivery) -> Outcome:
        return self._send(delivery)  # type: ignore[no-any-return]

    def reconcile(self, attempt_id: str) -> Outcome | None:
        return None


def seed(db: Database, count: int, policy: dict[str, Any] | None) -> dict[str, str]:
    """``count`` reminders ready to call at START, by patient type."""
    with db.session() as session:
        owner = issue_key(session, Role.SCHEDULER, "bench").id
        session.add(
            AudioAsset(
                key="bench",
                format="phone",
                media_type="audio/wav",
                path="/dev/null",
                duration_s=40.0,
                engine="espeak",
                voice="en",
            )
        )
    kinds: dict[str, str] = {}
    rows = []
    names = [kind for kind, share in TYPES.items() for _ in range(round(share * count))]
    for number, kind in enumerate(names[:count]):
        reminder_id = f"{number:032x}"
        kinds[reminder_id] = kind
        facts: dict[str, Any] = {
            "patient": {"name": "Pat", "phone": f"+1312555{number:04d}", "timezone": TIMEZONE},
            "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
            "appointment": {"start": (START + 6 * DAY).isoformat()},
        }
        if policy is not None:
            facts["escalation"] = policy
        rows.append(
            {
                "id": reminder_id,
                "owner_key_id": owner,
                "kind": "appointment_reminder",
                "channel": "phone",
                "language": "en",
                "status": Status.READY,
                "send_at": START,
                "expires_at": START + 6 * DAY,
                "facts": facts,
                "created_at": START,
                "updated_at": START,
                "message_text": "bench",
                "message_variant": "call",
                "audio_key": "bench",
                "audio_format": "phone",
                "job_failures": 0,
                "escalation_step": 0,
            }
        )
    with db.session() as session:
        session.execute(insert(Reminder), rows)
    return kinds


def due(pipeline: Pipeline, now: datetime) -> list[str]:
    """What the sweeper would dispatch now: ready and due, or waiting and its time come."""
    with pipeline.db.session() as session:
        return list(
            session.scalars(
                select(Reminder.id).where(
                    or_(
                        (Reminder.status == Status.READY) & (Reminder.send_at <= now),
                        (Reminder.status == Status.DISPATCHING) & (Reminder.lease_until <= now),
                    )
                )
            )
        )


def next_moment(pipeline: Pipeline, population: Population, now: datetime) -> datetime | None:
    with pipeline.db.session() as session:
        waits = session.scalars(
            select(Reminder.lease_until).where(
                Reminder.status == Status.DISPATCHING, Reminder.lease_until > now
            )
        ).all()
    listens = [at for at in population.listens.values() if at > now]
    moments = [*waits, *listens]
    return min(moments) if moments else None


def run(count: int, database_url: str, policy: dict[str, Any] | None) -> dict[str, Any]:
    db = Database(database_url)
    db.migrate()
    clock = Clock(START)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        redis_url="",
        secret_key="bench-signing-key",  # noqa: S106 (a throwaway database's links)
        data_dir=Path(tempfile.mkdtemp()),
        calls_per_day=1,
        calls_per_week=3,
    )
    pipeline = jobs.build_pipeline(settings, db, clock)  # type: ignore[arg-type]
    kinds = seed(db, count, policy)
    population = Population(kinds, clock=clock)
    pipeline.channels = {
        "phone": StepChannel("twilio", population.phone),
        "sms": StepChannel("sms", population.sms),
    }
    started = time.perf_counter()
    rounds = 0
    while True:
        rounds += 1
        for reminder_id, at in list(population.listens.items()):
            if at <= clock.now():
                del population.listens[reminder_id]
                with db.session() as session:
                    pipeline.answered(
                        session, reminder_id, "listened to the end on the listen page"
                    )
        for reminder_id in due(pipeline, clock.now()):
            pipeline.dispatch(reminder_id)
        moment = next_moment(pipeline, population, clock.now())
        if moment is None:
            break
        clock.at = moment + timedelta(seconds=1)  # a lease is taken over once it has lapsed
    elapsed = time.perf_counter() - started
    return measure(db, kinds) | {
        "seconds": elapsed,
        "rounds": rounds,
        "days": (clock.at - START) / DAY,
    }


def measure(db: Database, kinds: dict[str, str]) -> dict[str, Any]:
    with db.session() as session:
        reminders = {r.id: r.status for r in session.scalars(select(Reminder))}
        attempts = session.execute(
            select(Attempt.reminder_id, Attempt.channel, Attempt.started_at)
        ).all()
        last_events = {
            e.reminder_id: e
            for e in session.scalars(select(ReminderEvent).order_by(ReminderEvent.id))
        }
    calls: dict[str, list[datetime]] = {}
    texts = Counter[str]()
    for reminder_id, channel, started in attempts:
        if channel == "sms":
            texts[reminder_id] += 1
        else:
            calls.setdefault(reminder_id, []).append(started)
    most_day = most_week = 0
    for times in calls.values():
        times.sort()
        for i, at in enumerate(times):
            most_day = max(most_day, sum(1 for t in times[i:] if t - at < DAY))
            most_week = max(most_week, sum(1 for t in times[i:] if t - at < WEEK))
    reached: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = {}
    for reminder_id, status in reminders.items():
        statuses[status] += 1
        channel = (
            "listen page" if "listen page" in (last_events[reminder_id].detail or "") else "call"
        )
        if status == Status.CONFIRMED or (status == Status.DELIVERED and channel == "listen page"):
            heard_on = last_events[reminder_id].step or 0  # None: no policy, the first call
            reached[f"step {heard_on} ({channel})"] += 1
            by_type.setdefault(kinds[reminder_id], Counter())["reached"] += 1
        by_type.setdefault(kinds[reminder_id], Counter())["total"] += 1
    return {
        "reached": reached,
        "statuses": statuses,
        "by_type": by_type,
        "calls": sum(len(t) for t in calls.values()),
        "texts": sum(texts.values()),
        "most_calls_24h": most_day,
        "most_calls_7d": most_week,
        "most_texts": max(texts.values(), default=0),
    }


def show(title: str, result: dict[str, Any], count: int) -> None:
    print(
        f"\n== {title}: {count} reminders, {result['rounds']} clock moves over "
        f"{result['days']:.1f} simulated days, {result['seconds']:.1f} s wall"
    )
    total = sum(result["reached"].values())
    print(f"reached: {total} ({total / count:.0%})")
    for step, n in sorted(result["reached"].items()):
        print(f"  {step:<28} {n:>5}")
    print("by patient type (reached / total):")
    for kind in TYPES:
        c = result["by_type"].get(kind, Counter())
        print(f"  {kind:<28} {c['reached']:>5} / {c['total']}")
    print("final statuses:", ", ".join(f"{s} {n}" for s, n in sorted(result["statuses"].items())))
    print(
        f"calls placed {result['calls']}, texts sent {result['texts']}; most calls for one "
        f"reminder in any 24 h: {result['most_calls_24h']} (limit 1), in any 7 days: "
        f"{result['most_calls_7d']} (limit 3); most texts: {result['most_texts']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    results = {}
    for title, policy in (("baseline, no policy", None), ("escalation policy", POLICY)):
        scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 (RAM, not /tmp)
        url = args.database_url or f"sqlite:///{tempfile.mkdtemp(dir=scratch)}/bench.sqlite3"
        results[title] = run(args.reminders, url, policy)
        show(title, results[title], args.reminders)
    base = sum(results["baseline, no policy"]["reached"].values())
    with_policy = sum(results["escalation policy"]["reached"].values())
    print(
        f"\nreached with the policy / without: {with_policy} / {base} = "
        f"{with_policy / max(base, 1):.2f}x; handed to staff: "
        f"{results['escalation policy']['statuses'].get('needs_staff', 0)}"
    )
    over = [t for t, r in results.items() if r["most_calls_24h"] > 1 or r["most_calls_7d"] > 3]
    print("limits kept in every run" if not over else f"LIMITS BROKEN in: {over}")


if __name__ == "__main__":
    main()
