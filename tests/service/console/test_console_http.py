"""The console's sessions and forms over HTTP: cookies, CSRF, expiry, roles and the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from service.app import create_app
from service.config import Settings
from service.console.routes import KIND_OPTIONS
from service.console.sessions import COOKIE_NAME
from service.db import Database
from service.models import ApiKey, AuditEntry, StaffSession
from templates import KINDS
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.console import csrf_of, sign_in

FORM_VALUE = re.compile(r'<input id="(\w+)" name="\w+" type="[\w-]+" value="([^"]*)"')


def preview_form(csrf: str, **changes: str) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT14:30")
    form = {
        "csrf_token": csrf,
        "action": "preview",
        "kind": "appointment_reminder",
        "language": "en",
        "variant": "call",
        "speech_rate": "normal",
        "patient_name": "María López",
        "timezone": "America/Chicago",
        "clinic_name": "Riverside Clinic",
        "callback_phone": "+13125550100",
        "appointment_start": start,
        "provider": "Dr. Chen",
        "location": "",
        "instructions": "",
    }
    form.update(changes)
    return form


def key_id(database_url: str, name: str) -> str:
    db = Database(database_url)
    with db.session() as session:
        found = session.scalar(select(ApiKey.id).where(ApiKey.name == name))
    db.dispose()
    assert found is not None
    return found


def audit_actions(database_url: str) -> list[tuple[str | None, str]]:
    db = Database(database_url)
    with db.session() as session:
        rows = session.execute(
            select(AuditEntry.actor_key_id, AuditEntry.action).order_by(AuditEntry.id)
        ).all()
    db.dispose()
    return [(actor, action) for actor, action in rows]


def session_cookie_header(response: object) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME)]  # type: ignore[attr-defined]
    assert len(headers) == 1
    return headers[0].lower()


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(
    client: TestClient, keys: Keys
) -> None:
    assert client.get("/console/preview", follow_redirects=False).status_code == 303
    token = csrf_of(client.get("/console/sign-in").text)
    response = client.post(
        "/console/sign-in",
        data={"api_key": keys.staff, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = session_cookie_header(response)
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain HTTP here: a Secure cookie would never come back
    assert "max-age=900" in cookie  # the idle limit, 15 minutes
    page = client.get("/console/preview")
    assert page.status_code == 200 and "Sign out" in page.text
    assert csrf_of(page.text) != token, "signing in must issue a new CSRF token"

    signed_out = client.post(
        "/console/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert client.get("/console/preview", follow_redirects=False).status_code == 303


def test_cookie_is_secure_when_served_over_https(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    https_app = create_app(make_settings(public_base_url="https://tellwell.example.org"))
    with TestClient(https_app) as client:
        page = client.get("/console/sign-in")
        assert "secure" in session_cookie_header(page)
    with TestClient(create_app(make_settings()), base_url="https://testserver") as client:
        assert "secure" in session_cookie_header(client.get("/console/sign-in"))


def test_forms_without_the_session_token_are_refused(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    no_token = client.post("/console/sign-in", data={"api_key": keys.staff})
    assert no_token.status_code == 403
    assert client.get("/console/preview", follow_redirects=False).status_code == 303

    csrf = sign_in(client, keys.staff)
    forged = client.post("/console/preview", data=preview_form("not-the-token"))
    assert forged.status_code == 403 and "expired" in forged.text
    missing = preview_form(csrf)
    del missing["csrf_token"]
    assert client.post("/console/preview", data=missing).status_code == 403
    assert client.post("/console/sign-out", data={}).status_code == 403
    assert not [a for _, a in audit_actions(database_url) if a == "preview.render"]
    # Still signed in: a refused form changes nothing.
    assert client.get("/console/preview", follow_redirects=False).status_code == 200


def test_scheduler_and_wrong_keys_cannot_sign_in(client: TestClient, keys: Keys) -> None:
    for key, status, says in (
        (keys.scheduler, 403, "not a staff or admin key"),
        ("tw_not-a-key", 401, "not valid"),
    ):
        token = csrf_of(client.get("/console/sign-in").text)
        response = client.post("/console/sign-in", data={"api_key": key, "csrf_token": token})
        assert response.status_code == status and says in response.text
        assert client.get("/console/preview", follow_redirects=False).status_code == 303
    assert sign_in(client, keys.admin)  # admins may


def session_rows(database_url: str) -> list[tuple[str | None, str | None]]:
    """Each console session's (ended_at set?, end_reason), oldest first."""
    db = Database(database_url)
    with db.session() as session:
        rows = session.execute(
            select(StaffSession.ended_at, StaffSession.end_reason).order_by(StaffSession.created_at)
        ).all()
    db.dispose()
    return [(None if ended is None else "ended", reason) for ended, reason in rows]


def test_session_ends_after_fifteen_idle_minutes_and_each_view_renews_it(
    client: TestClient, keys: Keys, clock: OffsetClock, database_url: str
) -> None:
    sign_in(client, keys.staff)
    for _ in range(3):  # 30 minutes of use in all, twice the idle limit
        clock.skip(10 * 60)
        assert client.get("/console/languages", follow_redirects=False).status_code == 200
    clock.skip(15 * 60 + 1)
    idle = client.get("/console/languages", follow_redirects=False)
    assert idle.status_code == 303 and idle.headers["location"].endswith("/console/sign-in")
    assert session_rows(database_url) == [("ended", "idle")]


def test_session_ends_eight_hours_after_sign_in_however_active(
    client: TestClient, keys: Keys, clock: OffsetClock, database_url: str
) -> None:
    sign_in(client, keys.staff)
    for _ in range(8 * 6 - 1):  # a view every 10 minutes, the last at 7 h 50 min
        clock.skip(10 * 60)
        assert client.get("/console/languages", follow_redirects=False).status_code == 200
    clock.skip(10 * 60)
    assert client.get("/console/languages", follow_redirects=False).status_code == 303
    assert session_rows(database_url) == [("ended", "max_age")]


def test_short_limits_come_from_the_settings(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    settings = make_settings(console_idle_timeout_s=60, console_session_max_s=120)
    clock = OffsetClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        sign_in(client, keys.staff)
        assert "max-age=60" in session_cookie_header(client.get("/console/languages"))
        clock.skip(61)
        assert client.get("/console/languages", follow_redirects=False).status_code == 303
        sign_in(client, keys.staff)
        for _ in range(2):
            clock.skip(59)
            assert client.get("/console/languages", follow_redirects=False).status_code == 200
        clock.skip(59)
        assert client.get("/console/languages", follow_redirects=False).status_code == 303


def test_a_cookie_saved_before_sign_out_opens_nothing_after_it(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    body = reminder_body(channel="app", external_id="appt-saved-cookie")
    body["patient"] = {**body["patient"], "app_recipient_id": "app-user-7"}
    created = client.post("/v1/reminders", json=body, headers=Keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    page_url = f"/console/reminders/{created.json()['id']}"
    csrf = sign_in(client, keys.staff)
    assert client.get(page_url).status_code == 200
    saved = client.cookies.get(COOKIE_NAME)
    assert saved

    signed_out = client.post("/console/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 200 and "Sign in" in signed_out.text
    client.cookies.set(COOKIE_NAME, saved, path="/console")  # the copy someone kept
    replayed = client.get(page_url, follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].endswith("/sign-in")
    assert "appt-saved-cookie" not in replayed.text
    assert session_rows(database_url) == [("ended", "sign_out")]
    reads = [a for a in audit_actions(database_url) if a[1] == "reminder.read"]
    assert len(reads) == 1, "only the view before sign-out was audited"


def test_signing_in_again_ends_the_session_before(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    sign_in(client, keys.staff)
    first = client.cookies.get(COOKIE_NAME)
    sign_in(client, keys.admin)
    assert session_rows(database_url) == [("ended", "sign_out"), (None, None)]
    client.cookies.set(COOKIE_NAME, first or "", path="/console")
    assert client.get("/console/languages", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_session(
    client: TestClient, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    sign_in(client, keys.staff)
    saved = client.cookies.get(COOKIE_NAME)
    db = Database(database_url)
    with db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.name == "nurse").values(revoked_at=clock.now()))
    assert client.get("/console/languages", follow_redirects=False).status_code == 303
    assert session_rows(database_url) == [("ended", "key_revoked")]
    # Un-revoking the key does not bring the ended session back.
    with db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.name == "nurse").values(revoked_at=None))
    db.dispose()
    client.cookies.set(COOKIE_NAME, saved or "", path="/console")
    assert client.get("/console/languages", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_not_a_session(client: TestClient, keys: Keys) -> None:
    sign_in(client, keys.staff)
    value = client.cookies.get(COOKIE_NAME)
    assert value
    client.cookies.set(
        COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/console"
    )
    assert client.get("/console/preview", follow_redirects=False).status_code == 303


def test_every_preview_is_audited_under_the_staff_members_own_key(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    csrf = sign_in(client, keys.staff)
    for language in ("en", "es"):
        response = client.post("/console/preview", data=preview_form(csrf, language=language))
        assert response.status_code == 200, response.text
        assert f'lang="{language}" id="transcript"' in response.text
        assert "<audio controls" in response.text and "autoplay" not in response.text
    nurse = key_id(database_url, "nurse")
    previews = [
        actor for actor, action in audit_actions(database_url) if action == "preview.render"
    ]
    assert previews == [nurse, nurse]


def test_preview_warns_when_the_words_are_too_hard(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.staff)
    plain = client.post("/console/preview", data=preview_form(csrf))
    assert plain.status_code == 200 and "No warnings." in plain.text
    hard = (
        "Please discontinue anticoagulation medications, particularly warfarin and "
        "clopidogrel, approximately seventy-two hours beforehand, and coordinate documentation "
        "regarding immunosuppressive pharmacological interventions with your cardiologist"
    )
    page = client.post("/console/preview", data=preview_form(csrf, instructions=hard))
    assert page.status_code == 200
    assert "Warnings" in page.text and "use simpler words" in page.text


def test_preview_errors_are_shown_beside_their_fields(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.staff)
    past = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT09:00")
    page = client.post(
        "/console/preview", data=preview_form(csrf, patient_name="", callback_phone="555")
    )
    assert page.status_code == 422
    for field in ("patient_name", "callback_phone"):
        assert f'id="{field}-error"' in page.text
        assert f'aria-describedby="{field}-hint {field}-error"' in page.text or (
            f'aria-describedby="{field}-error"' in page.text
        )
    assert 'href="#patient_name"' in page.text  # the summary links to the field
    page = client.post("/console/preview", data=preview_form(csrf, appointment_start=past))
    assert page.status_code == 422
    assert 'id="appointment_start-error"' in page.text and "is in the past" in page.text


def test_sample_data_fills_the_form(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.staff)
    page = client.post(
        "/console/preview",
        data={"csrf_token": csrf, "action": "sample", "kind": "result_ready", "language": "es"},
    )
    assert page.status_code == 200
    assert 'value="Riverside Clinic"' in page.text and 'id="ordered_by"' in page.text
    assert 'id="appointment_start"' not in page.text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_offered_filled_with_its_sample_and_previewed(
    client: TestClient, keys: Keys, kind: str
) -> None:
    csrf = sign_in(client, keys.staff)
    first = client.get("/console/preview").text
    assert f'<option value="{kind}"' in first
    sample = client.post(
        "/console/preview",
        data={"csrf_token": csrf, "action": "sample", "kind": kind, "language": "es"},
    )
    assert sample.status_code == 200
    assert f'<option value="{kind}" selected>' in sample.text
    fields = dict(FORM_VALUE.findall(sample.text))
    assert fields["clinic_name"] == "Riverside Clinic"
    assert ("ordered_by" in fields) == (kind == "result_ready")
    assert ("appointment_start" in fields) == (kind not in ("result_ready", "follow_up"))
    assert ("previous_start" in fields) == (kind == "appointment_changed")
    # The sample as shown is a preview the API accepts.
    preview = client.post(
        "/console/preview",
        data={
            "csrf_token": csrf,
            "action": "preview",
            "kind": kind,
            "language": "es",
            "variant": "call",
            "speech_rate": "normal",
            **fields,
        },
    )
    assert preview.status_code == 200, preview.text
    assert 'lang="es" id="transcript"' in preview.text and "<audio controls" in preview.text


def test_a_changed_appointment_says_both_times_and_checks_the_old_one(
    client: TestClient, keys: Keys
) -> None:
    csrf = sign_in(client, keys.staff)
    now = datetime.now(UTC)
    new = (now + timedelta(days=5)).replace(hour=15, minute=0)
    old = (now + timedelta(days=3)).replace(hour=9, minute=0)
    changed = preview_form(
        csrf,
        kind="appointment_changed",
        appointment_start=new.strftime("%Y-%m-%dT%H:%M"),
        previous_start=old.strftime("%Y-%m-%dT%H:%M"),
    )
    page = client.post("/console/preview", data=changed)
    assert page.status_code == 200, page.text
    assert 'id="previous_start"' in page.text
    transcript = page.text.split('id="transcript">')[1].split("</blockquote>")[0]
    assert "at 3 PM" in transcript and "at 9 AM" in transcript
    # No previous time: still a preview, of the new time only.
    page = client.post("/console/preview", data=changed | {"previous_start": ""})
    assert page.status_code == 200
    transcript = page.text.split('id="transcript">')[1].split("</blockquote>")[0]
    assert "at 3 PM" in transcript and "9 AM" not in transcript
    same = changed | {"previous_start": changed["appointment_start"]}
    page = client.post("/console/preview", data=same)
    assert page.status_code == 422
    assert 'id="previous_start-error"' in page.text and "is the same as" in page.text
    assert 'aria-describedby="previous_start-hint previous_start-error"' in page.text
    assert 'href="#previous_start"' in page.text


def test_a_follow_up_preview_asks_the_question_chosen(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.staff)
    sample = client.post(
        "/console/preview",
        data={"csrf_token": csrf, "action": "sample", "kind": "follow_up", "language": "es"},
    )
    assert '<select id="follow_up_question" name="follow_up_question">' in sample.text
    fields = dict(FORM_VALUE.findall(sample.text))
    asked = {}
    for question in ("", "resolved", "visit_rating"):
        preview = client.post(
            "/console/preview",
            data={
                "csrf_token": csrf,
                "action": "preview",
                "kind": "follow_up",
                "language": "es",
                "variant": "call",
                "speech_rate": "normal",
                "follow_up_question": question,
                **fields,
            },
        )
        assert preview.status_code == 200, preview.text
        asked[question] = preview.text
    assert "¿Resolvimos su problema? Oprima 1 para sí." in asked["resolved"]
    assert "¿Cómo fue su visita?" in asked["visit_rating"]
    assert "¿Cómo fue su visita?" in asked[""]  # an inline clinic: the default question
    bad = client.post(
        "/console/preview",
        data={
            "csrf_token": csrf,
            "action": "preview",
            "kind": "follow_up",
            "language": "es",
            "follow_up_question": "net_promoter",
            **fields,
        },
    )
    assert bad.status_code == 422 and 'id="follow_up_question-error"' in bad.text


def test_the_kind_options_follow_the_templates_kinds() -> None:
    assert [kind for kind, _ in KIND_OPTIONS] == list(KINDS)
    assert len({label for _, label in KIND_OPTIONS}) == len(KINDS)


@pytest.mark.parametrize("page", ["/console/preview", "/console/reminders", "/console/languages"])
def test_pages_need_a_session(client: TestClient, page: str) -> None:
    response = client.get(page, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("/sign-in")


def test_reminder_list_filters_by_send_date_and_the_page_view_is_audited(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    send_at = datetime.now(UTC) + timedelta(days=1)
    body = reminder_body(channel="app", send_at=send_at.isoformat(), external_id="appt-tomorrow")
    body["patient"] = {**body["patient"], "app_recipient_id": "app-user-7"}
    created = client.post("/v1/reminders", json=body, headers=Keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    reminder_id = created.json()["id"]
    sign_in(client, keys.staff)

    that_day = client.get("/console/reminders", params={"date": send_at.date().isoformat()})
    assert that_day.status_code == 200 and "appt-tomorrow" in that_day.text
    other_day = (send_at + timedelta(days=1)).date().isoformat()
    assert "appt-tomorrow" not in client.get("/console/reminders", params={"date": other_day}).text
    bad = client.get("/console/reminders", params={"date": "tomorrow"})
    assert bad.status_code == 422 and 'id="date-error"' in bad.text

    page = client.get(f"/console/reminders/{reminder_id}")
    assert page.status_code == 200 and "Not rendered yet." in page.text
    reads = [a for a in audit_actions(database_url) if a[1] == "reminder.read"]
    assert reads == [(key_id(database_url, "nurse"), "reminder.read")]


def test_an_unknown_reminder_is_a_page_not_json(client: TestClient, keys: Keys) -> None:
    sign_in(client, keys.staff)
    page = client.get("/console/reminders/0123456789abcdef0123456789abcdef")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html") and "No reminder" in page.text


def test_preview_warns_of_instructions_in_another_language(client: TestClient, keys: Keys) -> None:
    # Issue 15: a Spanish message with the clinic's English words, and "No warnings."
    csrf = sign_in(client, keys.staff)
    english = {"location": "Second floor, suite 210", "instructions": "Bring your medicine list."}
    page = client.post("/console/preview", data=preview_form(csrf, language="es", **english))
    assert page.status_code == 200
    assert "No warnings." not in page.text
    assert "appointment.instructions reads as English" in page.text
    spanish = {"location": "Segundo piso, consultorio 210", "instructions": "Traiga su lista."}
    page = client.post("/console/preview", data=preview_form(csrf, language="es", **spanish))
    assert "reads as" not in page.text


def test_the_languages_page_shows_the_new_languages_unreviewed_and_the_silent_ones_with_why(
    client: TestClient, keys: Keys
) -> None:
    sign_in(client, keys.staff)
    page = client.get("/console/languages")
    assert page.status_code == 200
    spoken, _, silent = page.text.partition("written but not spoken here")
    row = re.search(r'<th scope="row">uk</th>.*?</tr>', spoken, flags=re.DOTALL)
    assert row and "Ukrainian" in row[0] and "Not yet reviewed" in row[0] and "espeak" in row[0]
    assert '<th scope="row">tl</th>' not in spoken and '<th scope="row">so</th>' not in spoken
    assert '<th scope="row">tl</th>' in silent and "no offline voice" in silent
    assert '<th scope="row">so</th>' in silent and "No engine speaks Somali" in silent


def test_preview_shows_the_accessibility_profile_and_its_effect(
    client: TestClient, keys: Keys
) -> None:
    csrf = sign_in(client, keys.staff)
    profile = {"sentence_pause": "long", "repeat_message": "yes", "offer_repeat_twice": "yes"}
    page = client.post("/console/preview", data=preview_form(csrf, **profile))
    assert page.status_code == 200, page.text
    said = re.search(r'id="profile">([^<]*)<', page.text)
    assert said is not None
    assert said.group(1) == ("speech normal, long pauses, message said twice, key 9 offered twice")
    assert "(said twice)" in page.text
    transcript = re.search(r'id="transcript">([^<]*)<', page.text)
    assert transcript is not None
    assert transcript.group(1).count("Here is the message again.") == 1
    assert transcript.group(1).count("Press 9 to hear this again.") == 4
    for name, value in profile.items():
        assert f'<option value="{value}" selected>' in page.text, name

    refused = client.post("/console/preview", data=preview_form(csrf, repeat_message="sometimes"))
    assert refused.status_code == 422
    assert 'id="repeat_message-error"' in refused.text
