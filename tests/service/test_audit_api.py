"""``GET /v1/audit``: an admin reads who did what, filtered and page by page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.support.api import Keys, reminder_body

PHONE = "+13125550177"


def audit_log(client: TestClient, keys: Keys, **query: Any) -> dict[str, Any]:
    answer = client.get("/v1/audit", params=query, headers=keys.header(keys.admin))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def some_activity(client: TestClient, keys: Keys) -> str:
    """Reads by admin and staff, and a scheduler's opt-out: five entries in all."""
    created = client.post(
        "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
    ).json()["id"]
    for key in (keys.admin, keys.staff, keys.staff):
        client.get(f"/v1/reminders/{created}", headers=keys.header(key))
    client.post("/v1/opt-outs", json={"phone": PHONE}, headers=keys.header(keys.scheduler))
    client.get(f"/v1/reminders/{created}", headers=keys.header(keys.scheduler))
    return str(created)


def test_filters_by_actor_action_subject_and_time(client: TestClient, keys: Keys) -> None:
    reminder_id = some_activity(client, keys)
    everything = audit_log(client, keys)["items"]
    assert [e["action"] for e in everything] == [
        "reminder.read",
        "opt_out.add",
        "reminder.read",
        "reminder.read",
        "reminder.read",
    ]
    actors = {e["actor_name"]: e["actor_key_id"] for e in everything}
    assert set(actors) == {"admin", "nurse", "epic"}

    by_nurse = audit_log(client, keys, actor=actors["nurse"])["items"]
    assert [e["actor_name"] for e in by_nurse] == ["nurse", "nurse"]
    opt_outs = audit_log(client, keys, action="opt_out.add")["items"]
    assert len(opt_outs) == 1 and opt_outs[0]["subject_type"] == "phone"
    assert PHONE not in str(opt_outs)
    on_reminder = audit_log(client, keys, subject_type="reminder", subject_id=reminder_id)
    assert len(on_reminder["items"]) == 4
    assert audit_log(client, keys, subject_id="nothing-like-it")["items"] == []

    middle = everything[2]["at"]
    newer = audit_log(client, keys, since=middle)["items"]
    older = audit_log(client, keys, until=middle)["items"]
    assert all(datetime.fromisoformat(e["at"]) >= datetime.fromisoformat(middle) for e in newer)
    assert {e["id"] for e in newer} | {e["id"] for e in older} == {e["id"] for e in everything}
    assert not {e["id"] for e in newer} & {e["id"] for e in older}


def test_pages_neither_skip_nor_repeat(client: TestClient, keys: Keys) -> None:
    reminder_id = some_activity(client, keys)
    everything = [e["id"] for e in audit_log(client, keys)["items"]]
    seen: list[int] = []
    page = audit_log(client, keys, limit=2)
    while True:
        seen.extend(e["id"] for e in page["items"])
        if page["next_cursor"] is None:
            break
        # New entries written meanwhile come before the first page, never into the next.
        client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.admin))
        page = audit_log(client, keys, limit=2, cursor=page["next_cursor"])
    assert seen == everything


def test_only_admins_read_it_and_bad_queries_are_422(client: TestClient, keys: Keys) -> None:
    for key in (keys.staff, keys.scheduler):
        assert client.get("/v1/audit", headers=keys.header(key)).status_code == 403
    assert client.get("/v1/audit").status_code == 401
    for query, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"since": "2026-12-02T10:00:00"}, "since"),
    ):
        answer = client.get("/v1/audit", params=query, headers=keys.header(keys.admin))
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == [field]
