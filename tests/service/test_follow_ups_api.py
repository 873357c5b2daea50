"""The follow-up question as a clinic and a reminder set it, the answer keys, and the
weekly counts' route: a bad question is a 422 naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.follow_ups import answer_for
from tests.support.api import Keys, count_reminders, reminder_body
from tests.support.clinics import add_clinic, clinic_body, count_clinics


def problem_fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [error["field"] for error in answer.json()["errors"]]


def follow_up(**changes: Any) -> dict[str, Any]:
    body = reminder_body(kind="follow_up", **changes)
    del body["appointment"]
    return body


def test_a_key_is_an_answer_only_to_its_question() -> None:
    four = answer_for("visit_rating", "4")
    assert four is not None and (four.value, four.needs_staff) == ("4", False)
    assert [answer_for("visit_rating", k).needs_staff for k in "12345"] == [  # type: ignore[union-attr]
        True,
        True,
        False,
        False,
        False,
    ]
    yes, no = answer_for("resolved", "1"), answer_for("resolved", "2")
    assert yes is not None and (yes.value, yes.needs_staff) == ("yes", False)
    assert no is not None and (no.value, no.needs_staff) == ("no", True)
    for question, key in [
        ("resolved", "3"),
        ("visit_rating", "6"),
        ("visit_rating", "9"),
        ("x", "1"),
    ]:
        assert answer_for(question, key) is None


def test_a_clinic_sets_its_question_and_a_bad_one_is_refused(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    assert add_clinic(client, keys.admin)["follow_up_question"] == "visit_rating"
    bad = client.post(
        "/v1/clinics",
        json=clinic_body(id="northside", follow_up_question="net_promoter"),
        headers=keys.header(keys.admin),
    )
    assert problem_fields(bad) == ["follow_up_question"]
    assert count_clinics(database_url) == 1
    patched = client.patch(
        "/v1/clinics/riverside",
        json={"follow_up_question": "resolved"},
        headers=keys.header(keys.admin),
    )
    assert patched.status_code == 200 and patched.json()["follow_up_question"] == "resolved"
    for value in ("maybe", None):
        refused = client.patch(
            "/v1/clinics/riverside",
            json={"follow_up_question": value},
            headers=keys.header(keys.admin),
        )
        assert problem_fields(refused) == ["follow_up_question"]
    read = client.get("/v1/clinics/riverside", headers=keys.header(keys.staff))
    assert read.json()["follow_up_question"] == "resolved"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (follow_up(follow_up={"question": "nps"}), "follow_up.question"),
        (follow_up(follow_up={"question": "resolved", "scale": 10}), "follow_up.scale"),
        (reminder_body(follow_up={"question": "resolved"}), "follow_up"),
        (reminder_body(kind="follow_up"), "appointment"),
        (follow_up(result={}), "result"),
    ],
    ids=["unknown-question", "unknown-field", "other-kind", "with-appointment", "with-result"],
)
def test_a_bad_follow_up_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, keys: Keys, database_url: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert field in problem_fields(answer)
    assert count_reminders(database_url) == 0


def test_a_follow_up_reminder_shows_its_question_before_any_answer(
    client: TestClient, keys: Keys
) -> None:
    add_clinic(client, keys.admin, follow_up_question="resolved")
    body = follow_up(clinic={"id": "riverside"})
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    read = client.get(created.json()["links"]["self"], headers=keys.header(keys.staff)).json()
    assert read["follow_up"] == {
        "question": "resolved",
        "answer": None,
        "answered_at": None,
        "needs_staff": False,
    }
    other = client.post("/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler))
    assert (
        client.get(other.json()["links"]["self"], headers=keys.header(keys.staff)).json()[
            "follow_up"
        ]
        is None
    )


def test_the_weekly_counts_route_refuses_a_bad_range_and_an_unknown_clinic(
    client: TestClient, keys: Keys
) -> None:
    add_clinic(client, keys.admin)
    empty = client.get("/v1/clinics/riverside/follow-ups", headers=keys.header(keys.staff))
    assert empty.status_code == 200 and empty.json() == {"clinic_id": "riverside", "weeks": []}
    for weeks in ("0", "54", "many"):
        bad = client.get(
            "/v1/clinics/riverside/follow-ups",
            params={"weeks": weeks},
            headers=keys.header(keys.staff),
        )
        assert problem_fields(bad) == ["weeks"]
    missing = client.get("/v1/clinics/elsewhere/follow-ups", headers=keys.header(keys.staff))
    assert missing.status_code == 404
    assert client.get("/v1/clinics/riverside/follow-ups").status_code == 401
