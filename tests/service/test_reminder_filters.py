"""Listing reminders by language and send time, as the console and schedulers filter them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.api import Keys, reminder_body


def app_reminder(language: str, send_at: datetime) -> dict[str, object]:
    """An app reminder, so the calling window does not move its send time."""
    body = reminder_body(language=language, channel="app", send_at=send_at.isoformat())
    body["patient"] = {**body["patient"], "app_recipient_id": "app-user-7"}
    return body


def test_list_filters_by_language_and_send_window(client: TestClient, keys: Keys) -> None:
    day = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    made = {}
    for name, language, send_at in (
        ("es-morning", "es", day + timedelta(hours=9)),
        ("en-morning", "en", day + timedelta(hours=9)),
        ("es-next-day", "es", day + timedelta(days=1, hours=1)),
        ("es-midnight", "es", day),
    ):
        response = client.post(
            "/v1/reminders",
            json=app_reminder(language, send_at),
            headers=keys.header(keys.scheduler),
        )
        assert response.status_code == 202, response.text
        made[response.json()["id"]] = name

    def listed(**params: str) -> set[str]:
        response = client.get("/v1/reminders", params=params, headers=keys.header(keys.staff))
        assert response.status_code == 200, response.text
        return {made[item["id"]] for item in response.json()["items"]}

    window = {"send_after": day.isoformat(), "send_before": (day + timedelta(days=1)).isoformat()}
    assert listed(language="es") == {"es-morning", "es-next-day", "es-midnight"}
    assert listed(**window) == {"es-morning", "en-morning", "es-midnight"}
    assert listed(language="es", **window) == {"es-morning", "es-midnight"}
    assert listed(language="fr") == set()


def test_a_send_time_without_a_zone_is_refused_by_name(client: TestClient, keys: Keys) -> None:
    response = client.get(
        "/v1/reminders",
        params={"send_after": "2026-12-03T00:00:00"},
        headers=keys.header(keys.staff),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "send_after"
