"""HL7 intake stores: SIU messages over real TCP (the ``hl7`` library's MLLP client) to the
listener ``tellwell serve`` starts with ``TELLWELL_MLLP_PORT``, then read back as staff
read them, through ``GET /v1/appointments``; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from devtools.ports import free_port
from devtools.timezones import daytime_zone
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import Hl7Message
from tests.support.api import Keys
from tests.support.appointments import appointment_body, deliver
from tests.support.clinics import store_clinic
from tests.support.clock import OffsetClock
from tests.support.hl7 import (
    ack_code,
    acked_control_id,
    exchange,
    hl7_time,
    sample,
    send,
    siu,
)
from tests.support.waiting import wait_for

HOST = "127.0.0.1"
NO_PHONE_PID = "PID|1||MRN-2^^^RIVERSIDE^MR||Okafor^Ben^^^^^L||||||||^NET^X.400^ben@example.org||en"


@dataclass
class Intake:
    """The app with its MLLP listener, and the staff's view of what it stored."""

    client: TestClient
    port: int
    staff: dict[str, str]
    admin: dict[str, str]

    def send(self, *messages: str) -> list[hl7.Message]:
        return send(HOST, self.port, list(messages))

    def appointments(self, **query: Any) -> list[dict[str, Any]]:
        answer = self.client.get("/v1/appointments", params=query, headers=self.staff)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def only(self) -> dict[str, Any]:
        (appointment,) = self.appointments()
        return appointment


@pytest.fixture
def intake(
    make_settings: Callable[..., Settings], keys: Keys, clock: OffsetClock
) -> Iterator[Intake]:
    port = free_port()
    settings = make_settings(mllp_port=port, mllp_host=HOST)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Intake(client, port, keys.header(keys.staff), keys.header(keys.admin))


def later(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def hl7_messages(database_url: str) -> int:
    db = Database(database_url)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Hl7Message)) or 0
    db.dispose()
    return total


def test_a_new_appointment_is_stored_and_its_reminders_planned(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    (ack,) = intake.send(siu(start=hl7_time(start)))
    assert ack_code(ack) == "AA" and acked_control_id(ack) == "CTRL-1"
    stored = intake.only()
    assert stored["clinic_id"] == "riverside" and stored["external_id"] == "FL-1"
    assert stored["status"] == "booked" and stored["needs_attention"] is None
    assert datetime.fromisoformat(stored["start"]) == start
    patient = stored["patient"]
    assert (patient["name"], patient["phone"], patient["language"]) == (
        "Ana Rivera",
        "+16175550145",
        "es",
    )
    assert stored["provider"] == "Dr. June Kim"
    assert stored["updated_at"] == "2030-11-01T13:00:00Z"  # MSH-7, New York (EDT) time
    assert [r["status"] for r in stored["reminders"]] == ["scheduled", "scheduled"]


def test_a_time_without_offset_is_the_clinics_local_time(intake: Intake, database_url: str) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"], timezone="Asia/Tokyo")
    start = later(5).astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    (ack,) = intake.send(siu(start=start.strftime("%Y%m%d%H%M%S")))
    assert ack_code(ack) == "AA"
    stored = datetime.fromisoformat(intake.only()["start"])
    assert stored == start.replace(tzinfo=ZoneInfo("Asia/Tokyo"))


def test_a_reschedule_replans_and_tells_a_patient_who_heard_once(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start, moved = later(5), later(6)
    intake.send(siu(start=hl7_time(start)))
    first = intake.only()["reminders"][0]
    deliver(database_url, first["id"])
    acks = intake.send(
        siu("CTRL-2", "S13", start=hl7_time(moved), sent_at="20301101100000"),
        siu("CTRL-3", "S13", start=hl7_time(moved), sent_at="20301101110000"),
    )
    assert [ack_code(a) for a in acks] == ["AA", "AA"]
    stored = intake.only()
    assert datetime.fromisoformat(stored["start"]) == moved
    changed = [r for r in stored["reminders"] if r["kind"] == "appointment_changed"]
    assert len(changed) == 1
    planned = [r for r in stored["reminders"] if r["kind"] == "appointment_reminder"]
    assert sorted(r["status"] for r in planned) == ["delivered", "scheduled", "scheduled"]


@pytest.mark.parametrize(
    ("trigger", "status"), [("S15", "cancelled"), ("S17", "cancelled"), ("S26", "noshow")]
)
def test_cancel_delete_and_no_show_end_what_is_pending(
    intake: Intake, database_url: str, trigger: str, status: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    intake.send(siu(start=hl7_time(start)))
    # Without a start of its own, the message keeps the stored one.
    (ack,) = intake.send(siu("CTRL-2", trigger, start="", sent_at="20301101100000"))
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert stored["status"] == status
    assert datetime.fromisoformat(stored["start"]) == start
    assert {r["status"] for r in stored["reminders"]} == {"cancelled"}


def test_a_modification_without_a_start_keeps_the_start(intake: Intake, database_url: str) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    intake.send(siu(start=hl7_time(start)))
    pid = "PID|1||MRN-1^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||||||||^PRN^CP^^1^617^5550199||spa"
    (ack,) = intake.send(siu("CTRL-2", "S14", start="", sent_at="20301101100000", pid=pid))
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert datetime.fromisoformat(stored["start"]) == start
    assert stored["patient"]["phone"] == "+16175550199"


def test_a_resent_message_gets_the_same_ack_and_changes_nothing(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    intake.send(siu(start=hl7_time(start)))
    before = intake.only()
    # The same facility and control id, even with other content, is the same message.
    (ack,) = intake.send(siu(start=hl7_time(later(7)), trigger="S13", sent_at="20301101100000"))
    assert ack_code(ack) == "AA" and acked_control_id(ack) == "CTRL-1"
    assert intake.only() == before
    assert hl7_messages(database_url) == 1


def test_the_same_message_on_racing_connections_is_stored_once(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    message = siu(start=hl7_time(later(5)))

    async def race() -> list[list[hl7.Message]]:
        return list(await asyncio.gather(*(exchange(HOST, intake.port, [message]) for _ in "ab")))

    with ThreadPoolExecutor(max_workers=1) as pool:
        answers = pool.submit(asyncio.run, race()).result()
    assert [ack_code(a) for (a,) in answers] == ["AA", "AA"]
    assert len(intake.only()["reminders"]) == 2
    assert hl7_messages(database_url) == 1


def test_the_same_control_id_from_another_facility_is_another_message(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    store_clinic(database_url, id="hillside", identifiers=["HILLSIDE"])
    acks = intake.send(
        siu(start=hl7_time(later(5))), siu(start=hl7_time(later(5)), facility="HILLSIDE")
    )
    assert [ack_code(a) for a in acks] == ["AA", "AA"]
    assert sorted(a["clinic_id"] for a in intake.appointments()) == ["hillside", "riverside"]


def test_an_older_message_after_a_newer_one_changes_nothing(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    intake.send(siu(start=hl7_time(start), sent_at="20301101120000"))
    before = intake.only()
    (ack,) = intake.send(siu("CTRL-2", "S13", start=hl7_time(later(6)), sent_at="20301101110000"))
    assert ack_code(ack) == "AA"
    assert intake.only() == before


def test_an_unknown_facility_is_an_error_at_msh_4(intake: Intake, database_url: str) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    (ack,) = intake.send(siu(start=hl7_time(later(5)), facility="ELSEWHERE"))
    assert ack_code(ack) == "AE"
    err = ack.segment("ERR")
    assert str(err(2)) == "MSH^1^4^1"
    assert str(err(3)).startswith("204^")
    assert intake.appointments() == []
    # Not kept as taken: once the clinic knows the name, the same message is stored.
    assert hl7_messages(database_url) == 0


def test_an_appointment_another_key_keeps_is_refused_at_sch_2(
    intake: Intake, database_url: str, keys: Keys
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = later(5)
    put = intake.client.put(
        "/v1/appointments/riverside/FL-1",
        json=appointment_body(start),
        headers=keys.header(keys.scheduler),
    )
    assert put.status_code == 201, put.text
    (ack,) = intake.send(siu(start=hl7_time(later(6))))
    assert ack_code(ack) == "AE"
    assert str(ack.segment("ERR")(2)) == "SCH^1^2^1"
    assert datetime.fromisoformat(intake.only()["start"]) == start
    assert hl7_messages(database_url) == 0


def test_the_location_names_the_clinic_when_msh_4_does_not(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE-WEST"])
    message = siu(start=hl7_time(later(5)), facility="ENGINE").replace(
        "RGS|1", "RGS|1\rAIL|1||CLIN2^Room 4^^RIVERSIDE-WEST"
    )
    (ack,) = intake.send(message)
    assert ack_code(ack) == "AA"
    assert intake.only()["clinic_id"] == "riverside"


def test_an_unreachable_patient_is_stored_flagged_and_planned_nothing(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    (ack,) = intake.send(siu(start=hl7_time(later(5)), pid=NO_PHONE_PID))
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert stored["needs_attention"] == "only work, fax, pager or e-mail contacts are given"
    assert stored["reminders"] == []
    assert [a["id"] for a in intake.appointments(needs_attention="true")] == [stored["id"]]
    assert intake.appointments(needs_attention="false") == []

    # A later message with a phone clears the flag and plans the reminders.
    (ack,) = intake.send(siu("CTRL-2", "S14", start="", sent_at="20301101100000"))
    fixed = intake.only()
    assert fixed["needs_attention"] is None and len(fixed["reminders"]) == 2


def test_a_language_without_a_voice_is_spoken_in_the_clinics_default(
    intake: Intake, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    pid = "PID|1||MRN-1^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||||||||^PRN^CP^^1^617^5550145||heb"
    with caplog.at_level("INFO", logger="service.intake.hl7.handler"):
        (ack,) = intake.send(siu(start=hl7_time(later(5)), pid=pid))
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert stored["patient"]["language"] == "en" and len(stored["reminders"]) == 2
    assert "we have no voice for this language; the clinic's default language is used" in (
        caplog.text
    )
    # Staff see which visits are not spoken in the patient's own language (no PHI).
    audit = intake.client.get(
        "/v1/audit",
        params={"action": "hl7.language_fallback"},
        headers=intake.admin,
    )
    assert audit.status_code == 200, audit.text
    (entry,) = audit.json()["items"]
    assert entry["subject_id"] == stored["id"]
    assert entry["detail"] == {
        "reason": "we have no voice for this language; the clinic's default language is used"
    }


def test_a_language_no_voice_can_replace_is_stored_flagged_and_planned_nothing(
    intake: Intake, database_url: str
) -> None:
    # The clinic's default lost its voice since it was set: nothing can speak to her.
    store_clinic(database_url, identifiers=["RIVERSIDE"], default_language="he")
    pid = "PID|1||MRN-1^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||||||||^PRN^CP^^1^617^5550145||heb"
    (ack,) = intake.send(siu(start=hl7_time(later(5)), pid=pid))
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert stored["needs_attention"] == (
        "we have no voice for this language, "
        "and the clinic's default language cannot say appointment messages"
    )
    assert stored["reminders"] == []
    assert [a["id"] for a in intake.appointments(needs_attention="true")] == [stored["id"]]


def test_notes_are_instructions_only_where_the_clinic_allows(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    store_clinic(
        database_url, id="hillside", identifiers=["HILLSIDE"], hl7_notes_as_instructions=True
    )
    notes = ("Bring your medicine list.",)
    intake.send(
        siu(start=hl7_time(later(5)), notes=notes),
        siu(start=hl7_time(later(5)), notes=notes, facility="HILLSIDE"),
    )
    by_clinic = {a["clinic_id"]: a["instructions"] for a in intake.appointments()}
    assert by_clinic == {"riverside": None, "hillside": "Bring your medicine list."}


LEAD_S = 120
"""The reminder is planned this far ahead; the clock skips past it instead of waiting."""


def test_a_published_s12_reaches_the_patient(
    intake: Intake, database_url: str, clock: OffsetClock
) -> None:
    zone = daytime_zone()
    store_clinic(
        database_url,
        identifiers=["XYZ_HOSPITAL"],
        timezone=zone,
        schedule={"appointment_reminder": [{"hours_before": 2}]},
    )
    start = datetime.now(UTC) + timedelta(hours=2, seconds=LEAD_S)
    local = start.astimezone(ZoneInfo(zone)).strftime("%Y%m%d%H%M%S")
    # iNTERFACEWARE's SIU^S12 (2.3), its visit moved from 2011 to a few hours from now.
    message = sample("interfaceware-siu_s12-v2.3.hl7").replace("20110617084500", local)
    (ack,) = intake.send(message)
    assert ack_code(ack) == "AA"
    stored = intake.only()
    assert stored["patient"]["name"] == "PAUL SMITH"
    assert stored["patient"]["phone"] == "+12605551234"
    (planned,) = stored["reminders"]

    clock.skip(LEAD_S + 1)

    def status() -> str:
        answer = intake.client.get(f"/v1/reminders/{planned['id']}", headers=intake.staff)
        found: str = answer.json()["status"]
        return found

    wait_for(lambda: status() == "delivered")
    text = intake.client.get(f"/v1/reminders/{planned['id']}", headers=intake.staff).json()
    assert "PAUL SMITH" in text["message"]["text"]


def spanish_patient_english_notes() -> str:
    """Our 2.5.1 SIU^S12: a Spanish-speaking patient (PID-15 SPA), the clinic's place
    (AIL-3 "Riverside Clinic, second floor") and notes ("Bring your medication list &
    insurance card.") in English, its visit moved from 2030 to five days from now."""
    return sample("own-siu_s12-v2.5.1-tq1.hl7").replace("20301105143000-0500", hl7_time(later(5)))


def test_notes_in_another_language_are_stored_with_a_warning_in_the_ack(
    intake: Intake, database_url: str
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"], hl7_notes_as_instructions=True)
    (ack,) = intake.send(spanish_patient_english_notes())
    assert ack_code(ack) == "AA"
    err = ack.segment("ERR")
    assert str(err(2)) == "AIL^1^3^1"  # the first such field: the location's
    assert str(err(3)) == "0^Message accepted^HL70357"
    assert str(err(4)) == "W"
    assert "reads as English" in str(err(8)) and "'es'" in str(err(8))
    assert "medication" not in str(ack)  # the ACK names the field, never its text
    stored = intake.only()
    assert stored["patient"]["language"] == "es"
    assert stored["instructions"].startswith("Bring your medication list")
    assert len(stored["reminders"]) == 2 and stored["needs_attention"] is None


def test_notes_in_the_patients_language_bring_a_plain_aa(intake: Intake, database_url: str) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"], hl7_notes_as_instructions=True)
    notes = ("Traiga su lista de medicamentos y su tarjeta del seguro.",)
    (ack,) = intake.send(siu(start=hl7_time(later(5)), notes=notes))
    assert ack_code(ack) == "AA"
    assert [str(s[0]) for s in ack] == ["MSH", "MSA"]


def test_a_clinic_that_refuses_other_language_notes_answers_ae_at_nte_3(
    intake: Intake, database_url: str
) -> None:
    store_clinic(
        database_url,
        identifiers=["RIVERSIDE"],
        hl7_notes_as_instructions=True,
        refuse_other_language_text=True,
    )
    notes = ("Bring your medicine list and your insurance card.",)
    (ack,) = intake.send(siu(start=hl7_time(later(5)), notes=notes))
    assert ack_code(ack) == "AE"
    err = ack.segment("ERR")
    assert str(err(2)) == "NTE^1^3^1"  # the notes: where the instructions came from
    assert str(err(4)) == "E"
    assert "refuses free text in another language" in str(err(8))
    assert intake.appointments() == []
    assert hl7_messages(database_url) == 0  # not taken: the fixed message is stored
