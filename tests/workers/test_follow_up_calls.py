"""Follow-up calls end to end: the app on uvicorn with its in-process workers, the Twilio
simulator placing the call and pressing keys over HTTP, the answer read back from the API,
the status webhook the scheduler is owed, and the clinic's weekly counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from devtools.timezones import daytime_zone
from devtools.twilio_sim import Said, Scenario, TwilioSimulator
from service.app import create_app
from service.config import Settings
from service.models import WebhookDelivery
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.clinics import add_clinic
from tests.support.clock import OffsetClock
from tests.support.phone import phone_settings
from tests.support.serving import serving
from tests.support.waiting import wait_for
from workers import jobs

PATIENT = "+13125550123"
OTHER_PATIENT = "+13125550124"
CALLBACK = "https://scheduler.example.org/hooks/tellwell"
"""Status webhooks are recorded (no client secret here, so none is sent): their payloads
are what the scheduler would get."""


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sim: TwilioSimulator) -> Settings:
    return phone_settings(make_settings, "", sim)


@pytest.fixture
def live(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[LiveServer]:
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    with serving(create_app(settings, clock=clock), port) as server:
        yield server


def follow_up_body(phone: str = PATIENT, **changes: Any) -> dict[str, Any]:
    body = reminder_body(kind="follow_up", callback_url=CALLBACK, **changes)
    del body["appointment"]
    body["patient"]["phone"] = phone
    return body


def create(live: LiveServer, keys: Keys, body: dict[str, Any]) -> str:
    answer = live.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def read(live: LiveServer, keys: Keys, reminder_id: str) -> dict[str, Any]:
    answer = live.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def settled(live: LiveServer, keys: Keys, reminder_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        reminder = read(live, keys, reminder_id)
        return reminder if reminder["status"] == status else None

    return dict(wait_for(reached, timeout_s=60))


def worklist(live: LiveServer, keys: Keys, **query: Any) -> list[dict[str, Any]]:
    answer = live.get("/v1/worklist", params=query, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def webhooks(reminder_id: str) -> list[dict[str, Any]]:
    with jobs.pipeline().db.session() as session:
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.reminder_id == reminder_id)
            .order_by(WebhookDelivery.id)
        )
        return [dict(row.payload) for row in rows]


def test_a_visit_rated_4_is_recorded_and_told_to_the_scheduler(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["4"]))
    reminder_id = create(live, keys, follow_up_body())

    done = settled(live, keys, reminder_id, "confirmed")
    sim.wait_idle()
    assert sim.problems == []
    (call,) = sim.calls_to(PATIENT)
    assert call.pressed == ["4"]
    assert (
        "¿Cómo fue su visita? Oprima 1 si fue mala, hasta 5 si fue muy buena."
        in done["message"]["text"]
    )
    follow_up = done["follow_up"]
    assert follow_up["question"] == "visit_rating" and follow_up["answer"] == "4"
    assert follow_up["needs_staff"] is False and follow_up["answered_at"]
    assert done["events"][-1]["detail"] == "follow-up answered (visit_rating): 4 of 5"
    assert done["attempts"][0]["outcome"] == "confirmed"
    assert done["attempts"][0]["digits"] == "4"
    last = wait_for(
        lambda: (
            (sent := webhooks(reminder_id))
            and sent[-1]["type"] == "reminder.confirmed"
            and sent[-1]
        )
    )
    assert last["data"]["follow_up"] == {
        "question": "visit_rating",
        "answer": "4",
        "answered_at": follow_up["answered_at"],
        "needs_staff": False,
    }
    # Other webhooks keep exactly the shape they always had.
    assert all("follow_up" not in hook["data"] for hook in webhooks(reminder_id)[:-1])


def test_a_visit_rated_1_goes_to_the_staff_who_handle_it(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["1"]))
    reminder_id = create(live, keys, follow_up_body())

    flagged = settled(live, keys, reminder_id, "needs_staff")
    assert flagged["follow_up"]["answer"] == "1" and flagged["follow_up"]["needs_staff"] is True
    assert flagged["events"][-1]["detail"] == (
        "follow-up answered (visit_rating): 1 of 5; needs staff"
    )
    listed = live.get(
        "/v1/reminders",
        params={"status": "needs_staff"},
        headers=keys.header(keys.staff),
    ).json()
    assert [r["id"] for r in listed["items"]] == [reminder_id]
    hook = wait_for(lambda: (sent := webhooks(reminder_id)) and sent[-1])
    assert hook["type"] == "reminder.needs_staff"
    assert hook["data"]["follow_up"]["needs_staff"] is True

    # On the worklist as an answer to follow up, not as a patient nobody reached.
    (item,) = worklist(live, keys)
    assert item["id"] == f"follow_up_answer:{reminder_id}"
    assert item["detail"] == "follow-up answered (visit_rating): 1 of 5"
    assert item["actions"] == ["handled", "call_back"]
    assert item["patient"]["phone"] == PATIENT
    assert worklist(live, keys, reason="needs_staff") == []
    handled = live.post(
        f"/v1/worklist/{item['id']}/handled",
        json={"note": "Called back: the wait was long, passed on to the manager"},
        headers=keys.header(keys.staff),
    )
    assert handled.status_code == 200, handled.text
    assert worklist(live, keys) == []
    # Handled, and still on the record as an answer that needed a person.
    done = read(live, keys, reminder_id)
    assert done["status"] == "handled"
    assert done["follow_up"]["needs_staff"] is True
    (entry,) = live.get(
        "/v1/audit",
        params={"action": "reminder.handled"},
        headers=keys.header(keys.admin),
    ).json()["items"]
    assert entry["subject_id"] == reminder_id and entry["actor_name"] == "nurse"
    assert entry["detail"] == {"fields": ["note"]}


def test_the_clinics_resolved_question_a_no_is_flagged_and_the_weeks_are_counted(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    with live.client() as http:
        add_clinic(
            http,
            keys.admin,
            timezone=daytime_zone(),
            calling_hours={"start": "08:00", "end": "21:00"},
            follow_up_question="resolved",
        )
    # 3 is no answer to a yes/no question: the menu again, then 2, "no".
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["3", "2"]))
    sim.scenario_for(OTHER_PATIENT, Scenario(answer="human", keys=["1"]))
    clinic: dict[str, Any] = {"id": "riverside"}
    said_no = create(live, keys, follow_up_body(clinic=clinic))
    said_yes = create(live, keys, follow_up_body(OTHER_PATIENT, clinic=clinic))

    no = settled(live, keys, said_no, "needs_staff")
    assert "¿Resolvimos su problema? Oprima 1 para sí. Oprima 2 para no." in no["message"]["text"]
    assert no["follow_up"] == {
        "question": "resolved",
        "answer": "no",
        "answered_at": no["follow_up"]["answered_at"],
        "needs_staff": True,
    }
    assert no["attempts"][0]["digits"] == "32"
    yes = settled(live, keys, said_yes, "confirmed")
    assert yes["follow_up"]["answer"] == "yes" and yes["follow_up"]["needs_staff"] is False

    # The reminder's own question wins over the clinic's.
    sim.scenario_for("+13125550125", Scenario(answer="human", keys=["5"]))
    rated = create(
        live,
        keys,
        follow_up_body("+13125550125", follow_up={"question": "visit_rating"}, clinic=clinic),
    )
    assert settled(live, keys, rated, "confirmed")["follow_up"]["answer"] == "5"

    report = live.get("/v1/clinics/riverside/follow-ups", headers=keys.header(keys.staff))
    assert report.status_code == 200, report.text
    (resolved, rating) = report.json()["weeks"]
    assert resolved | {"week": ""} == {
        "week": "",
        "question": "resolved",
        "sent": 2,
        "answered": 2,
        "answers": {"yes": 1, "no": 1},
        "average": None,
        "needs_staff": 1,
    }
    assert rating["week"] == resolved["week"] and rating["question"] == "visit_rating"
    assert rating["answers"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    assert rating["average"] == 5.0 and rating["sent"] == 1 and rating["needs_staff"] == 0
    assert "López" not in report.text and PATIENT not in report.text


def test_an_answer_may_be_said_a_number_or_yes_and_no_and_an_unsure_one_is_asked_again(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    """Twilio writes a said number as a digit; to the yes/no question the language's own
    yes and no words answer; heard with little confidence, nothing is kept."""
    rated, unsure, declined = "+13125550131", "+13125550132", "+13125550133"
    sim.scenario_for(rated, Scenario(answer="human", keys=[Said("4.", 0.9)]))
    sim.scenario_for(unsure, Scenario(answer="human", keys=[Said("2", 0.2), "5"]))
    sim.scenario_for(declined, Scenario(answer="human", keys=[Said("No, todavía no.", 0.9)]))
    english = {**follow_up_body(rated), "language": "en"}
    said_4 = create(live, keys, english)
    said_unsure = create(live, keys, follow_up_body(unsure))
    said_no = create(live, keys, follow_up_body(declined, follow_up={"question": "resolved"}))

    four = settled(live, keys, said_4, "confirmed")
    assert four["follow_up"]["answer"] == "4"
    assert four["attempts"][0]["speech_result"] == "4."
    assert settled(live, keys, said_unsure, "confirmed")["follow_up"]["answer"] == "5"
    no = settled(live, keys, said_no, "needs_staff")
    assert no["follow_up"]["answer"] == "no" and no["follow_up"]["needs_staff"] is True
    sim.wait_idle()
    assert sim.problems == []
