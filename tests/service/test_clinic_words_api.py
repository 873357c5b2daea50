"""A clinic's words through the API, on both databases: pronunciations heard before they
are saved, wording versions behind the gates, pinned on each reminder, previewed at any
version, and reviewed by name, the review lost on any change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydub import AudioSegment
from sqlalchemy import select

from service.db import Database
from service.models import AuditEntry, Reminder, WordingVersion
from templates import shipped_wording_hash
from tests.support.api import Keys, preview_body, reminder_body
from tests.support.clinics import reviewer_key, store_clinic
from tests.support.console import sign_in
from tests.support.waiting import wait_for

LEXICON = "/v1/clinics/riverside/lexicon/en"
WORDING = "/v1/clinics/riverside/wording/en"
CALL_WORDING = f"{WORDING}/appointment_reminder/call"
V1 = (
    "Hello, {patient_name}. This is {clinic_name}, version one.\n"
    "Your visit is on {day}, at {time}. You will see {provider}.\n{menu}"
)
V2 = (
    "Hi, {patient_name}. {clinic_name} here, version two.\n"
    "Your visit is on {day}, at {time}.\n{menu}"
)


def audio_seconds(client: TestClient, url: str, path: Path) -> float:
    answer = client.get(url.removeprefix("http://testserver"))
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
    path.write_bytes(answer.content)
    return float(AudioSegment.from_file(path).duration_seconds)


def audit_details(database_url: str) -> list[tuple[str, Any]]:
    db = Database(database_url)
    with db.session() as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.detail)).all()
    db.dispose()
    return [(action, detail) for action, detail in rows]


def test_staff_set_replace_list_and_delete_a_pronunciation(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    entry = {"written": "Nguyen", "spoken": "Win"}
    created = client.put(LEXICON, json=entry, headers=staff)
    assert created.status_code == 201, created.text
    replaced = client.put(LEXICON, json={**entry, "spoken": "Nwin"}, headers=staff)
    assert replaced.status_code == 200 and replaced.json()["id"] == created.json()["id"]
    listed = client.get(LEXICON, headers=staff).json()
    assert [(e["written"], e["spoken"]) for e in listed["entries"]] == [("Nguyen", "Nwin")]

    deleted = client.delete(f"{LEXICON}/{created.json()['id']}", headers=staff)
    assert deleted.status_code == 204
    assert client.get(LEXICON, headers=staff).json()["entries"] == []
    again = client.delete(f"{LEXICON}/{created.json()['id']}", headers=staff)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    # The words are not in the audit log: a lexicon entry may be a person's name.
    details = audit_details(database_url)
    assert {"lexicon.create", "lexicon.update", "lexicon.delete"} <= {a for a, _ in details}
    assert "Nguyen" not in repr(details) and "Nwin" not in repr(details)


def test_bad_lexicon_requests_name_the_field_and_store_nothing(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    blank = client.put(LEXICON, json={"written": "Nguyen", "spoken": ""}, headers=staff)
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["spoken"]
    nowhere = client.put(
        "/v1/clinics/nowhere/lexicon/en", json={"written": "a", "spoken": "b"}, headers=staff
    )
    assert nowhere.status_code == 404 and "nowhere" in nowhere.json()["detail"]
    klingon = client.get("/v1/clinics/riverside/lexicon/tlh", headers=staff)
    assert klingon.status_code == 404
    scheduler = client.get(LEXICON, headers=keys.header(keys.scheduler))
    assert scheduler.status_code == 403
    assert client.get(LEXICON, headers=staff).json()["entries"] == []


def test_an_audition_plays_the_word_as_written_and_as_it_will_be_said(
    client: TestClient, keys: Keys, database_url: str, tmp_path: Path
) -> None:
    store_clinic(database_url)
    answer = client.post(
        f"{LEXICON}/audition",
        json={"written": "Nguyen", "spoken": "Win"},
        headers=keys.header(keys.staff),
    )
    assert answer.status_code == 200, answer.text
    heard = answer.json()
    assert heard["written"]["audio_url"] != heard["spoken"]["audio_url"]
    for said in ("written", "spoken"):
        seconds = audio_seconds(client, heard[said]["audio_url"], tmp_path / f"{said}.mp3")
        assert seconds > 0.2 and abs(seconds - heard[said]["duration_s"]) < 0.5
        assert heard[said]["engine"] == "piper"  # the English voice patients hear
    assert "Nguyen" not in repr(audit_details(database_url))


def test_a_clinic_pronunciation_changes_the_voice_not_the_transcript(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    body = preview_body(language="en")
    before = client.post("/v1/previews", json=body, headers=staff).json()
    assert client.put(
        LEXICON, json={"written": "Chen", "spoken": "Chenn"}, headers=staff
    ).is_success
    body["clinic"] = {"id": "riverside"}
    after = client.post("/v1/previews", json=body, headers=staff).json()
    assert after["text"] == before["text"] and "Dr. Chen" in after["text"]
    assert after["audio_url"] != before["audio_url"]  # other words were spoken


def test_the_gates_refuse_bad_wording_and_nothing_is_saved(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    refusals = {
        "Hi {patient_name.__class__}. {menu}": "only bare slot names",
        "Hi {patient_name}. See {doctor}. {menu}": "{doctor} is not a known slot",
        "Hello, {patient_name}. Your visit is on {day}.": "add {menu}",
        "Hello, {patient_name}. Your visit is on {day}, at {time}. " * 14 + "{menu}": "too long",
    }
    for text, problem in refusals.items():
        answer = client.post(CALL_WORDING, json={"text": text}, headers=staff)
        assert answer.status_code == 422, answer.text
        errors = answer.json()["errors"]
        assert all(e["field"] == "text" for e in errors)
        assert any(problem in e["message"] for e in errors), errors
    leaky = (
        "Hello {first_name}. This is {clinic_name}. Your test results are ready. "
        "Call {clinic_phone}. Again, {clinic_phone}."
    )
    answer = client.post(f"{WORDING}/result_ready/voicemail", json={"text": leaky}, headers=staff)
    assert answer.status_code == 422
    assert any("private word" in e["message"] for e in answer.json()["errors"])
    assert client.get(CALL_WORDING, headers=staff).json()["items"] == []
    unknown_kind = client.post(f"{WORDING}/birthday/call", json={"text": V1}, headers=staff)
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"][0]["field"] == "kind"


def deliver(client: TestClient, keys: Keys, language: str = "en") -> str:
    body = reminder_body(language=language)
    body["clinic"] = {"id": "riverside"}
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    url = f"/v1/reminders/{created.json()['id']}"
    wait_for(
        lambda: client.get(url, headers=keys.header(keys.scheduler)).json()["status"] == "delivered"
    )
    reminder_id: str = created.json()["id"]
    return reminder_id


def pinned(database_url: str, reminder_id: str) -> tuple[str | None, str | None]:
    db = Database(database_url)
    with db.session() as session:
        reminder = session.get_one(Reminder, reminder_id)
        found = (reminder.wording_version_id, reminder.message_text)
    db.dispose()
    return found


def version_id(database_url: str, number: int) -> str:
    db = Database(database_url)
    with db.session() as session:
        found = session.scalar(select(WordingVersion.id).where(WordingVersion.number == number))
    db.dispose()
    assert found is not None
    return found


def test_each_reminder_keeps_the_version_it_was_rendered_with(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    first = client.post(CALL_WORDING, json={"text": V1}, headers=staff)
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1 and first.json()["text"] == V1
    with_v1 = deliver(client, keys)
    assert pinned(database_url, with_v1)[0] == version_id(database_url, 1)
    assert "version one" in (pinned(database_url, with_v1)[1] or "")

    second = client.post(CALL_WORDING, json={"text": V2}, headers=staff)
    assert second.status_code == 201 and second.json()["number"] == 2
    with_v2 = deliver(client, keys)
    assert pinned(database_url, with_v1)[0] == version_id(database_url, 1)
    assert pinned(database_url, with_v2)[0] == version_id(database_url, 2)
    assert "version two" in (pinned(database_url, with_v2)[1] or "")

    listed = client.get(CALL_WORDING, headers=staff).json()["items"]
    assert [(v["number"], v["text"]) for v in listed] == [(1, V1), (2, V2)]
    assert client.get(f"{CALL_WORDING}/1", headers=staff).json()["text"] == V1
    assert client.get(f"{CALL_WORDING}/3", headers=staff).status_code == 404


def test_a_preview_plays_any_version(client: TestClient, keys: Keys, database_url: str) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    for text in (V1, V2):
        assert client.post(CALL_WORDING, json={"text": text}, headers=staff).status_code == 201
    body = preview_body(language="en")
    body["clinic"] = {"id": "riverside"}
    current = client.post("/v1/previews", json=body, headers=staff).json()
    assert "version two" in current["text"] and current["wording_version"] == 2
    older = client.post("/v1/previews", json={**body, "wording_version": 1}, headers=staff)
    assert older.status_code == 200, older.text
    assert "version one" in older.json()["text"] and older.json()["wording_version"] == 1

    missing = client.post("/v1/previews", json={**body, "wording_version": 9}, headers=staff)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "wording_version"
    shipped = preview_body(language="en", wording_version=1)
    no_clinic = client.post("/v1/previews", json=shipped, headers=staff)
    assert no_clinic.status_code == 422
    assert no_clinic.json()["errors"][0]["field"] == "wording_version"


def test_a_review_names_who_read_which_version_and_any_change_unreviews(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff = keys.header(keys.staff)
    reviewer = {"Authorization": f"Bearer {reviewer_key(database_url)}"}
    state = client.get(WORDING, headers=staff).json()
    assert state["version"] == shipped_wording_hash("en") and state["reviewed"] is False

    refused = client.post(
        "/v1/languages/en/reviews",
        json={"reviewer": "Ana Reyes", "version": state["version"]},
        headers=staff,
    )
    assert refused.status_code == 403
    signed = client.post(
        "/v1/languages/en/reviews",
        json={"reviewer": "Ana Reyes", "version": state["version"]},
        headers=reviewer,
    )
    assert signed.status_code == 201, signed.text
    english = next(
        lang for lang in client.get("/v1/languages", headers=staff).json() if lang["code"] == "en"
    )
    assert english["reviewed"] is True and english["version"] == state["version"]
    assert english["review"]["reviewer"] == "Ana Reyes" and english["review"]["reviewed_at"]
    # The clinic speaks the shipped English, so the shipped review counts for it.
    assert client.get(WORDING, headers=staff).json()["reviewed"] is True
    sign_in(client, keys.staff)
    page = client.get("/console/languages").text
    assert "Reviewed by Ana Reyes on" in page and state["version"][:12] in page

    assert client.post(CALL_WORDING, json={"text": V1}, headers=staff).status_code == 201
    changed = client.get(WORDING, headers=staff).json()
    assert changed["version"] != state["version"]
    assert changed["reviewed"] is False and changed["review"] is None
    assert [m["number"] for m in changed["messages"]] == [1]
    stale = client.post(
        f"{WORDING}/reviews",
        json={"reviewer": "Ana Reyes", "version": state["version"]},
        headers=reviewer,
    )
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "version"
    clinic_review = client.post(
        f"{WORDING}/reviews",
        json={"reviewer": "Ana Reyes", "version": changed["version"]},
        headers=reviewer,
    )
    assert clinic_review.status_code == 201
    assert clinic_review.json()["clinic_id"] == "riverside"
    assert client.get(WORDING, headers=staff).json()["review"]["reviewer"] == "Ana Reyes"

    assert client.post(CALL_WORDING, json={"text": V2}, headers=staff).status_code == 201
    assert client.get(WORDING, headers=staff).json()["reviewed"] is False


def test_a_clinic_requiring_reviewed_wording_falls_back_to_its_default_language(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url, require_reviewed_wording=True, default_language="en")
    staff = keys.header(keys.staff)
    body = preview_body(language="es")
    body["clinic"] = {"id": "riverside"}
    fallen = client.post("/v1/previews", json=body, headers=staff).json()
    assert fallen["language"] == "en" and "Hello" in fallen["text"]
    assert any("not reviewed" in warning for warning in fallen["warnings"])
    # A reminder is rendered the same way: in the clinic's default language.
    in_english = pinned(database_url, deliver(client, keys, language="es"))[1] or ""
    assert in_english.startswith("Hello, María López.")

    reviewer = {"Authorization": f"Bearer {reviewer_key(database_url)}"}
    spanish = {"reviewer": "Lucía Gómez", "version": shipped_wording_hash("es")}
    assert client.post("/v1/languages/es/reviews", json=spanish, headers=reviewer).is_success
    spoken = client.post("/v1/previews", json=body, headers=staff).json()
    assert spoken["language"] == "es" and spoken["reviewed"] is True
    assert not any("not reviewed" in warning for warning in spoken["warnings"])
