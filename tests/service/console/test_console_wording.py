"""The wording pages over HTTP, on both databases: the text in use per message, a new
version behind the gates (a failing gate shown on the field, nothing saved), any version
heard, reviewers (only) mark the wording reviewed and a change un-reviews it; the preview
page speaks for a clinic chosen by id.

What the pages save is checked through the API, as a scheduling system would read it.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

from fastapi.testclient import TestClient

from tests.support.api import Keys
from tests.support.clinics import audit_entries, reviewer_key, store_clinic
from tests.support.console import csrf_of, sign_in

WORDING_PAGE = "/console/clinics/riverside/wording"
CALL_PAGE = f"{WORDING_PAGE}/en/appointment_reminder/call"
API_WORDING = "/v1/clinics/riverside/wording/en"
GOOD = (
    "Hello, {patient_name}. This is {clinic_name}, the console way.\n"
    "Your visit is on {day}, at {time}.\n{menu}"
)
NO_MENU = "Hello, {patient_name}. Your visit is on {day}, at {time}."
AUDIO_SRC = re.compile(r'<audio[^>]* src="([^"]+)"')
VERSION_INPUT = re.compile(r'name="version" value="([0-9a-f]{64})"')


def text_error(html: str) -> str:
    found = re.search(r'<p class="error" id="text-error">.*?Error: </span>([^<]+)</p>', html)
    assert found, "no error on the text field"
    return unescape(found.group(1))


def test_staff_see_the_shipped_text_and_save_a_gated_version(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    csrf = sign_in(client, keys.staff)
    clinic = client.get("/console/clinics/riverside")
    assert f'href="http://testserver{WORDING_PAGE}"' in clinic.text
    overview = client.get(WORDING_PAGE)
    assert overview.status_code == 200
    assert "Not reviewed" in overview.text and "Mark reviewed" not in overview.text
    assert overview.text.count(">shipped<") == 15  # 5 kinds x 3 variants, none of its own
    assert overview.text.count("María") >= 12  # the shipped text with sample facts
    message = client.get(CALL_PAGE)
    assert message.status_code == 200
    assert "{menu}" in message.text and "{ordered_by}" not in message.text  # this kind's slots
    assert "No version of its own yet" in message.text
    shipped = client.post(f"{CALL_PAGE}/hear", data={"csrf_token": csrf})
    assert shipped.status_code == 200 and "The text in use, with sample facts" in shipped.text
    assert "Press 1" in shipped.text and AUDIO_SRC.search(shipped.text)

    refused = client.post(CALL_PAGE, data={"csrf_token": csrf, "text": NO_MENU})
    assert refused.status_code == 422
    assert "add {menu}" in text_error(refused.text)
    assert 'aria-invalid="true"' in refused.text and 'href="#text"' in refused.text
    assert NO_MENU in unescape(refused.text)  # kept to fix
    unknown = client.post(CALL_PAGE, data={"csrf_token": csrf, "text": "Hi {doctor}. {menu}"})
    assert unknown.status_code == 422 and "{doctor}" in text_error(unknown.text)
    empty = client.post(CALL_PAGE, data={"csrf_token": csrf, "text": ""})
    assert empty.status_code == 422 and text_error(empty.text)
    listed = client.get(f"{API_WORDING}/appointment_reminder/call", headers=keys.header(keys.staff))
    assert listed.json()["items"] == []  # nothing half-stored

    saved = client.post(CALL_PAGE, data={"csrf_token": csrf, "text": GOOD}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = client.get(saved.headers["location"])
    assert "Saved as version 1" in shown.text and "Hear version 1" in shown.text
    versions = client.get(
        f"{API_WORDING}/appointment_reminder/call", headers=keys.header(keys.staff)
    ).json()["items"]
    assert [(v["number"], v["text"]) for v in versions] == [(1, GOOD)]
    overview = client.get(WORDING_PAGE)
    assert "version 1" in overview.text and overview.text.count(">shipped<") == 14
    created = audit_entries(database_url, "wording.create")
    assert [entry.detail for entry in created] == [
        {"language": "en", "kind": "appointment_reminder", "variant": "call", "number": 1}
    ]  # who changed what, never the words


def test_any_version_is_heard_through_the_preview(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    csrf = sign_in(client, keys.staff)
    for text in (GOOD, GOOD.replace("the console way", "a second time")):
        saved = client.post(CALL_PAGE, data={"csrf_token": csrf, "text": text})
        assert saved.status_code == 200  # followed the redirect
    heard = client.post(f"{CALL_PAGE}/hear", data={"csrf_token": csrf, "number": "1"})
    assert heard.status_code == 200, heard.text
    assert "Version 1, with sample facts" in heard.text
    assert "the console way" in heard.text and "Riverside Clinic" in heard.text
    src = AUDIO_SRC.search(heard.text)
    assert src, "no player"
    audio = client.get(urljoin(f"http://testserver{CALL_PAGE}/hear", unescape(src.group(1))))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    in_use = client.post(f"{CALL_PAGE}/hear", data={"csrf_token": csrf})
    assert "a second time" in in_use.text
    missing = client.post(f"{CALL_PAGE}/hear", data={"csrf_token": csrf, "number": "9"})
    assert missing.status_code == 422 and "wording_version" in missing.text


def test_reviewers_mark_the_wording_reviewed_and_a_change_unreviews_it(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    staff_csrf = sign_in(client, keys.staff)
    client.post(CALL_PAGE, data={"csrf_token": staff_csrf, "text": GOOD})
    staff_page = client.get(WORDING_PAGE).text
    assert "Mark reviewed" not in staff_page
    version = client.get(API_WORDING, headers=keys.header(keys.staff)).json()["version"]
    refused = client.post(
        f"{WORDING_PAGE}/review",
        data={"csrf_token": staff_csrf, "language": "en", "version": version, "reviewer": "X"},
    )
    assert refused.status_code == 403

    csrf = sign_in(client, reviewer_key(database_url))
    page = client.get(WORDING_PAGE)
    assert "Mark reviewed" in page.text
    shown_version = VERSION_INPUT.search(page.text)
    assert shown_version and shown_version.group(1) == version
    nameless = client.post(
        f"{WORDING_PAGE}/review",
        data={"csrf_token": csrf, "language": "en", "version": version, "reviewer": ""},
    )
    assert nameless.status_code == 422 and 'id="reviewer-error"' in nameless.text
    tampered = client.post(
        f"{WORDING_PAGE}/review",
        data={"csrf_token": csrf, "language": "en", "version": "nope", "reviewer": "Ana"},
    )
    assert tampered.status_code == 422 and "out of date" in tampered.text
    signed = client.post(
        f"{WORDING_PAGE}/review",
        data={"csrf_token": csrf, "language": "en", "version": version, "reviewer": "Ana Reyes"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    page = client.get(signed.headers["location"])
    assert "Marked reviewed" in page.text and "Reviewed by Ana Reyes" in page.text
    wording = client.get(API_WORDING, headers=keys.header(keys.staff)).json()
    assert wording["reviewed"] is True and wording["review"]["reviewer"] == "Ana Reyes"

    stale = client.post(
        f"{WORDING_PAGE}/review",
        data={"csrf_token": csrf, "language": "en", "version": "0" * 64, "reviewer": "Ana"},
    )
    assert stale.status_code == 409 and "changed" in stale.text

    client.post(CALL_PAGE, data={"csrf_token": csrf, "text": GOOD + " Thank you."})
    page = client.get(WORDING_PAGE)
    assert "Not reviewed" in page.text and "Reviewed by Ana Reyes" not in page.text
    assert client.get(API_WORDING, headers=keys.header(keys.staff)).json()["reviewed"] is False


def test_unknown_clinic_language_or_message_is_a_404_page(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    sign_in(client, keys.staff)
    assert client.get("/console/clinics/nowhere/wording").status_code == 404
    assert client.get(f"{WORDING_PAGE}?language=xx").status_code == 404
    assert client.get(f"{WORDING_PAGE}/en/appointment_reminder/fax").status_code == 404
    assert client.get(f"{WORDING_PAGE}/en/birthday/call").status_code == 404


def test_the_preview_page_speaks_for_a_clinic_chosen_by_id(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url, spoken_name="River side health")
    csrf = sign_in(client, keys.staff)
    client.post(CALL_PAGE, data={"csrf_token": csrf, "text": GOOD})
    page = client.get("/console/preview")
    assert '<option value="" selected>None (inline)</option>' in page.text
    assert '<option value="riverside">Riverside Clinic</option>' in page.text
    sample = client.post(
        "/console/preview", data={"csrf_token": csrf, "action": "sample", "language": "en"}
    )
    form = dict(
        re.findall(r'<input id="(\w+)" name="\w+" type="[\w-]+" value="([^"]*)"', sample.text)
    )
    form = {k: unescape(v) for k, v in form.items()}
    inline = client.post(
        "/console/preview",
        data={**form, "csrf_token": csrf, "kind": "appointment_reminder", "variant": "call"},
    )
    assert inline.status_code == 200 and "the console way" not in inline.text
    chosen = client.post(
        "/console/preview",
        data={
            **form,
            "csrf_token": csrf,
            "kind": "appointment_reminder",
            "variant": "call",
            "clinic": "riverside",
            "clinic_name": "Ignored Name",
        },
    )
    assert chosen.status_code == 200, chosen.text
    assert "the console way" in chosen.text and "the clinic&#39;s version 1" in chosen.text
    assert "Ignored Name" not in chosen.text.split('id="transcript"')[1]
    assert '<option value="riverside" selected>' in chosen.text
    gone = client.post(
        "/console/preview",
        data={**form, "csrf_token": csrf, "clinic": "nowhere", "kind": "appointment_reminder"},
    )
    assert gone.status_code == 422 and 'id="clinic-error"' in gone.text
    assert csrf_of(gone.text)
