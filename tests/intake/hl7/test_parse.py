"""SIU messages, published and our own, read into what the store step needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from service.intake.hl7.parse import parse_schedule_message
from service.intake.hl7.schedule import (
    AckCode,
    ErrorCode,
    MessageRefused,
    Timestamp,
    Trigger,
)
from service.intake.hl7.values import read_duration, read_timestamp
from tests.support.hl7 import sample, sample_names, siu

EASTERN_STANDARD = timezone(timedelta(hours=-5))


def test_every_sample_but_the_one_without_a_patient_is_read() -> None:
    names = sample_names()
    assert len(names) >= 9
    for name in names:
        if "no-pid" in name:
            continue
        message = parse_schedule_message(sample(name))
        assert message.control_id and message.appointment_id, name


def test_the_interfaceware_2_3_example() -> None:
    message = parse_schedule_message(sample("interfaceware-siu_s12-v2.3.hl7"))
    assert message.trigger is Trigger.NEW and message.version == "2.3"
    assert message.control_id == "24916560"
    assert message.facility.identifiers == ("XYZ_HOSPITAL",)
    assert (message.placer_id, message.filler_id) == ("10345", "2196178")
    # SCH-11.4 without an offset: the clinic's wall-clock time, kept naive.
    assert message.start == Timestamp(datetime(2011, 6, 17, 8, 45), "second")
    assert str(message.start_source) == "SCH-11.4"
    assert message.duration == timedelta(minutes=60)  # SCH-9/10 before the TQ's end
    assert message.patient.name.display == "PAUL SMITH"
    assert [p.number for p in message.patient.phones] == ["(260)555-1234"]
    assert message.providers[0].name.display == "Charles White MD"
    assert message.places[0].display == "OFFICE"
    assert message.filler_status == "Scheduled" and message.problems == ()


def test_the_corepoint_2_3_modification_with_a_trailing_space_in_its_start() -> None:
    message = parse_schedule_message(sample("corepoint-siu_s14-v2.3.hl7"))
    assert message.trigger is Trigger.MODIFIED
    assert message.start is not None
    assert message.start.value == datetime(2008, 3, 6, 10, 0)
    assert message.duration == timedelta(minutes=20)  # SCH-9 "20", SCH-10 "MIN"
    assert message.notes[0].text == "1MONTH HLCK" and message.notes[0].about == "AIL"


def test_the_fhir_converter_2_4_modification_without_a_start() -> None:
    message = parse_schedule_message(sample("fhir-converter-11SIU_S14-v2.4.hl7"))
    assert message.trigger is Trigger.MODIFIED and message.start is None
    assert message.sent_at is not None
    assert message.sent_at.value.utcoffset() == timedelta(hours=3)
    assert message.filler_id == "808725736" and message.placer_id == ""
    # PID-5 repeats (Latin, then Arabic script); neither is marked legal: the first.
    assert message.patient.name.family == "ALEIDAN"
    assert message.patient.names[1].family == "العيدان"
    assert message.patient.ids[0].value == "HC00172537"
    assert message.patient.ids[0].authority == "CERNER"
    assert message.patient.language.identifier == "Arabic"
    assert message.providers[0].name.display == "Dr. Rand Salwan Kamal Abbood"
    assert message.places[0].display == "General Medicine New"


def test_the_patients_know_best_example_with_pid_before_sch() -> None:
    message = parse_schedule_message(sample("patientsknowbest-siu_s12-v2.4.hl7"))
    assert message.placer_id == "ID123"
    assert message.patient.name.display == "Mr John Smith"
    uses = [(p.source.field, p.use) for p in message.patient.phones]
    assert uses == [(13, "PRN"), (13, "PRS"), (14, "NET"), (14, "WPN")]
    assert message.patient.phones[2].email == "john.smith@company.com"
    assert message.notes[0].about == "SCH" and message.notes[0].text == "My comment"


def test_our_2_5_1_message_with_tq1_offsets_and_repeating_fields() -> None:
    message = parse_schedule_message(sample("own-siu_s12-v2.5.1-tq1.hl7"))
    assert message.start == Timestamp(
        datetime(2030, 11, 5, 14, 30, tzinfo=EASTERN_STANDARD), "second"
    )
    assert str(message.start_source) == "TQ1-7" and message.duration == timedelta(minutes=30)
    assert message.facility.identifiers == (
        "RIVERSIDE^2.16.840.1.113883.3.9999^ISO",
        "2.16.840.1.113883.3.9999",
        "RIVERSIDE",
    )
    # The legal name (L) wins over the display name that came first.
    assert message.patient.name.display == "Sra. Antonia Núñez García"
    assert [i.type_code for i in message.patient.ids] == ["MR", "SS"]
    phones = [(p.number, p.use, p.equipment) for p in message.patient.phones]
    assert phones[:2] == [("+1 6175550123", "PRN", "PH"), ("+1 6175550145", "PRN", "CP")]
    assert message.patient.language.in_reading_order == ("SPA", "", "Spanish", "")
    assert [s.text for s in message.services] == ["Office visit, established"]
    assert message.providers[0].role.text == "Primary provider"
    assert message.places[0].display == "Riverside Clinic, second floor"
    # The escape sequence \T\ is an ampersand; an NTE after TQ1 is about the schedule.
    assert [(n.about, n.text) for n in message.notes] == [
        ("SCH", "Bring your medication list & insurance card."),
        ("AIS", "Arrive 15 minutes early."),
    ]
    assert message.filler_status == "Booked"


def test_our_2_8_message_with_five_encoding_characters_and_fractions() -> None:
    message = parse_schedule_message(sample("own-siu_s13-v2.8-offset.hl7"))
    assert message.trigger is Trigger.RESCHEDULED and message.version == "2.8"
    assert message.start is not None
    india = timezone(timedelta(hours=5, minutes=30))
    assert message.start.value == datetime(2030, 11, 6, 9, 30, 15, 500000, tzinfo=india)
    assert message.patient.phones[0].number == "+971501234567"  # XTN-12


@pytest.mark.parametrize(
    ("message", "location", "code"),
    [
        (sample("own-siu_s12-v2.5-no-pid.hl7"), "PID", ErrorCode.SEGMENT_SEQUENCE),
        (siu().replace("SCH|PL-1|FL-1\r", ""), "SCH", ErrorCode.SEGMENT_SEQUENCE),
        (siu().replace("SCH|PL-1|FL-1", "SCH||"), "SCH-2", ErrorCode.REQUIRED_FIELD_MISSING),
        (siu(control_id=""), "MSH-10", ErrorCode.REQUIRED_FIELD_MISSING),
        (siu(start=""), "TQ1-7", ErrorCode.REQUIRED_FIELD_MISSING),
        (siu(start="2030-11-05 14:30"), "TQ1-7", ErrorCode.DATA_TYPE),
        (siu(start="20301105"), "TQ1-7", ErrorCode.DATA_TYPE),  # a day without a time
        (siu(start="20301105143000+2500"), "TQ1-7", ErrorCode.DATA_TYPE),
        ("PID|1||x\rSCH|1", "MSH", ErrorCode.SEGMENT_SEQUENCE),
        ("\x00\xff garbage", "MSH", ErrorCode.SEGMENT_SEQUENCE),
    ],
)
def test_what_cannot_be_processed_is_an_error_naming_the_field(
    message: str, location: str, code: ErrorCode
) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse_schedule_message(message)
    assert refused.value.ack_code is AckCode.ERROR
    assert (str(refused.value.location), refused.value.error) == (location, code)


@pytest.mark.parametrize(
    ("message", "location", "code"),
    [
        (siu(message_type="ADT", trigger="A01"), "MSH-9", ErrorCode.UNSUPPORTED_MESSAGE_TYPE),
        (siu(trigger="S16"), "MSH-9.2", ErrorCode.UNSUPPORTED_EVENT),
        (siu(version="2.2"), "MSH-12", ErrorCode.UNSUPPORTED_VERSION),
        (siu(version="2.9"), "MSH-12", ErrorCode.UNSUPPORTED_VERSION),
    ],
)
def test_messages_we_do_not_take_are_rejected(message: str, location: str, code: ErrorCode) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse_schedule_message(message)
    assert refused.value.ack_code is AckCode.REJECT
    assert (str(refused.value.location), refused.value.error) == (location, code)


@pytest.mark.parametrize("trigger", ["S14", "S15", "S17", "S26"])
def test_changes_without_a_time_are_taken_and_a_bad_time_is_a_problem(trigger: str) -> None:
    assert parse_schedule_message(siu(trigger=trigger, start="")).start is None
    message = parse_schedule_message(siu(trigger=trigger, start="tomorrow"))
    assert message.start is None
    assert [str(p.location) for p in message.problems] == ["TQ1-7"]


def test_every_version_from_2_3_to_2_8_is_taken() -> None:
    for version in ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"):
        assert parse_schedule_message(siu(version=version)).version == version


def test_line_feeds_between_segments_are_read_like_carriage_returns() -> None:
    message = parse_schedule_message(siu().replace("\r", "\r\n"))
    assert message.patient.name.display == "Ana Rivera"
    assert parse_schedule_message(siu().replace("\r", "\n")).filler_id == "FL-1"


def test_a_missing_patient_name_is_a_problem_not_a_refusal() -> None:
    message = parse_schedule_message(siu(pid="PID|1||MRN-1"))
    assert [str(p.location) for p in message.problems] == ["PID-5"]


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("203011051430", datetime(2030, 11, 5, 14, 30), "minute"),
        ("2030110514", datetime(2030, 11, 5, 14), "hour"),
        ("20301105", datetime(2030, 11, 5), "day"),
        ("20301105143000.1", datetime(2030, 11, 5, 14, 30, 0, 100000), "second"),
        (
            "20301105143000-0030",
            datetime(2030, 11, 5, 14, 30, tzinfo=timezone(-timedelta(minutes=30))),
            "second",
        ),
        (
            "203011051430+0545",
            datetime(2030, 11, 5, 14, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))),
            "minute",
        ),
    ],
)
def test_timestamps_keep_their_offset_and_precision(
    text: str, expected: datetime, precision: str
) -> None:
    assert read_timestamp(text) == Timestamp(expected, precision)


@pytest.mark.parametrize(
    "text", ["2030-11-05", "20301105143000Z", "203011051430+05", "20301305", "2030110514300"]
)
def test_what_is_not_a_timestamp_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_timestamp(text)


@pytest.mark.parametrize(
    ("amount", "unit", "minutes"),
    [("30", "min", 30), ("20", "MIN", 20), ("45", "m", 45), ("1", "h", 60), ("90", "", 90)],
)
def test_durations_in_the_units_senders_write(amount: str, unit: str, minutes: int) -> None:
    assert read_duration(amount, unit) == timedelta(minutes=minutes)


@pytest.mark.parametrize(("amount", "unit"), [("x", "min"), ("30", "parsecs"), ("0", "min")])
def test_unreadable_durations_are_refused(amount: str, unit: str) -> None:
    with pytest.raises(ValueError):
        read_duration(amount, unit)


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_a_broken_escape_sequence_logs_nothing_of_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An empty escape sequence in the family name, an unknown one in the given name.
    text = siu().replace("Rivera^Ana", "Rivera\\\\Lopez^Ana\\#T\\")
    with caplog.at_level("DEBUG"):
        message = parse_schedule_message(text)
    assert message.filler_id == "FL-1"
    assert "Rivera" not in caplog.text and "Ana" not in caplog.text
