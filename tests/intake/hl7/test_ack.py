"""Each message gets the acknowledgment an interface engine acts on: AA, AE naming the
segment and field, or AR; its header mirrors the sender's."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import hl7
import pytest

from service.intake.hl7.ack import AckError, build_ack
from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.schedule import AckCode, ErrorCode, Location, ScheduleMessage
from service.intake.hl7.sink import Outcome, SinkResult
from tests.support.clock import OffsetClock
from tests.support.hl7 import sample, sample_names, siu


def answer(message: str, handler: MessageHandler | None = None) -> hl7.Message:
    text = (handler or MessageHandler(clock=OffsetClock())).handle(message)
    assert text.endswith("\r")
    return hl7.parse(text)


def field(ack: hl7.Message, segment: str, number: int) -> str:
    return str(ack.segment(segment)(number))


@pytest.mark.parametrize("name", [n for n in sample_names() if "no-pid" not in n])
def test_every_sample_is_accepted_with_its_control_id(name: str) -> None:
    message = sample(name)
    ack = answer(message)
    sent = hl7.parse(message)
    assert field(ack, "MSA", 1) == "AA"
    assert field(ack, "MSA", 2) == str(sent.segment("MSH")(10))
    with pytest.raises(KeyError):
        ack.segment("ERR")


def test_the_header_mirrors_the_sender() -> None:
    ack = answer(sample("own-siu_s12-v2.5.1-tq1.hl7"))
    msh = ack.segment("MSH")
    assert str(msh(3)) == "TELLWELL" and str(msh(4)) == "TELLWELL"  # their MSH-5, MSH-6
    assert str(msh(5)) == "EPIC"  # their MSH-3
    assert str(msh(6)) == "RIVERSIDE^2.16.840.1.113883.3.9999^ISO"  # their MSH-4, whole
    assert str(msh(9)) == "ACK^S12^ACK"
    assert str(msh(11)) == "P" and str(msh(12)) == "2.5.1"
    assert str(msh(18)) == "UNICODE UTF-8"
    assert str(msh(10)) and str(msh(10)) != "RS-0001"  # our own control id


def test_a_2_3_ack_has_the_two_part_message_type_of_2_3() -> None:
    ack = answer(sample("interfaceware-siu_s12-v2.3.hl7"))
    assert field(ack, "MSH", 9) == "ACK^S12" and field(ack, "MSH", 12) == "2.3"


def test_the_ack_time_is_the_handlers_clock() -> None:
    clock = OffsetClock()
    clock.skip(3600 * 24 * 365)
    ack = answer(siu(), MessageHandler(clock=clock))
    sent = datetime.strptime(field(ack, "MSH", 7), "%Y%m%d%H%M%S%z")
    assert abs((sent - clock.now()).total_seconds()) < 60


def test_no_pid_is_an_error_with_err_2_location_err_3_code_and_err_4_severity() -> None:
    ack = answer(sample("own-siu_s12-v2.5-no-pid.hl7"))
    assert field(ack, "MSA", 1) == "AE" and field(ack, "MSA", 2) == "RS-NOPID"
    err = ack.segment("ERR")
    assert str(err(2)) == "PID^1"
    assert str(err(3)) == "100^Segment sequence error^HL70357"
    assert str(err(4)) == "E"
    assert str(err(8)) == "no PID segment"


def test_a_missing_field_is_named_down_to_its_position() -> None:
    ack = answer(siu(start=""))
    err = ack.segment("ERR")
    assert field(ack, "MSA", 1) == "AE"
    assert str(err(2)) == "TQ1^1^7^1"
    assert str(err(3)).startswith("101^Required field missing")


def test_a_2_3_or_2_4_error_uses_err_1_and_says_why_in_msa_3() -> None:
    for version in ("2.3", "2.4"):
        ack = answer(siu(version=version, pid=""))
        assert field(ack, "MSA", 1) == "AE"
        assert field(ack, "MSA", 3) == "no PID segment"
        assert field(ack, "ERR", 1) == "PID^1^^100&Segment sequence error&HL70357"


@pytest.mark.parametrize(
    ("message", "location", "code"),
    [
        (siu(message_type="ADT", trigger="A01"), "MSH^1^9^1", "200"),
        (siu(trigger="S16"), "MSH^1^9^1^2", "201"),
        (siu(version="2.9"), "MSH^1^12^1", "203"),
    ],
)
def test_types_we_do_not_take_are_rejected(message: str, location: str, code: str) -> None:
    ack = answer(message)
    assert field(ack, "MSA", 1) == "AR" and field(ack, "MSA", 2) == "CTRL-1"
    assert field(ack, "ERR", 2) == location
    assert str(ack.segment("ERR")(3)(1)(1)) == code


def test_an_adt_ack_keeps_the_senders_trigger() -> None:
    ack = answer(siu(message_type="ADT", trigger="A01"))
    assert field(ack, "MSH", 9) == "ACK^A01^ACK"


@pytest.mark.parametrize("garbage", ["", "garbage", "\x00\x01\x02", "PID|1\rSCH|1", "MSH"])
def test_unparseable_input_gets_an_error_ack_anyway(garbage: str) -> None:
    ack = answer(garbage)
    assert field(ack, "MSA", 1) == "AE" and field(ack, "MSA", 2) == ""
    assert field(ack, "ERR", 2) == "MSH^1"
    assert field(ack, "MSH", 3) == "TELLWELL" and field(ack, "MSH", 12) == "2.5.1"


def test_the_ack_uses_the_senders_own_delimiters() -> None:
    message = siu(start="").replace("|", "!").replace("^", "#")
    text = MessageHandler(clock=OffsetClock()).handle(message)
    assert text.startswith("MSH!#~\\&!TELLWELL!TELLWELL!EPIC!RIVERSIDE!")
    assert "\rMSA!AE!CTRL-1\r" in text
    assert "\rERR!!TQ1#1#7#1!101#Required field missing#HL70357!E" in text


def test_a_reason_with_a_delimiter_is_escaped() -> None:
    error = AckError(Location("SCH", 2), ErrorCode.REQUIRED_FIELD_MISSING, "a|b^c&d~e\\f")
    text = build_ack(siu(), AckCode.ERROR, datetime.now(UTC), error)
    assert str(hl7.parse(text).segment("ERR")(8)) == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"


class AnsweringSink:
    """A sink that answers one outcome, to check the ACK each outcome gets; the store
    step's own tests will run the real one. ``seen`` keeps the control ids it was given."""

    def __init__(self, result: SinkResult | Exception) -> None:
        self.result = result
        self.seen: list[str] = []

    def apply(self, message: ScheduleMessage) -> SinkResult:
        self.seen.append(message.control_id)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize(
    "outcome",
    [Outcome.STORED, Outcome.NEEDS_ATTENTION, Outcome.DUPLICATE, Outcome.OUT_OF_DATE],
)
def test_stored_unreachable_duplicate_and_stale_messages_are_all_accepted(
    outcome: Outcome,
) -> None:
    sink = AnsweringSink(SinkResult(outcome, "no usable phone"))
    ack = answer(siu(), MessageHandler(sink, OffsetClock()))
    assert field(ack, "MSA", 1) == "AA" and sink.seen == ["CTRL-1"]


def test_an_unknown_facility_is_an_error_naming_msh_4() -> None:
    sink = AnsweringSink(SinkResult(Outcome.UNKNOWN_FACILITY))
    ack = answer(siu(), MessageHandler(sink, OffsetClock()))
    assert field(ack, "MSA", 1) == "AE"
    assert field(ack, "ERR", 2) == "MSH^1^4^1"
    assert str(ack.segment("ERR")(3)(1)(1)) == "204"


def test_a_failing_store_is_an_error_the_sender_retries_and_the_log_holds_no_phi(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = AnsweringSink(RuntimeError("Rivera Ana +16175550145"))
    with caplog.at_level("INFO"):
        ack = answer(siu(), MessageHandler(sink, OffsetClock()))
    assert field(ack, "MSA", 1) == "AE"
    assert str(ack.segment("ERR")(3)(1)(1)) == "207"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "CTRL-1" in logged
    assert "Rivera" not in logged and "5550145" not in logged


def test_refused_messages_never_reach_the_sink() -> None:
    sink = AnsweringSink(SinkResult(Outcome.STORED))
    answer(siu(pid=""), MessageHandler(sink, OffsetClock()))
    answer(siu(trigger="S16"), MessageHandler(sink, OffsetClock()))
    assert sink.seen == []


def test_mangled_messages_always_get_an_ack() -> None:
    """Samples cut, doubled and sprinkled with delimiters at random (a fixed seed): the
    handler answers each with an ACK that parses, and never raises."""
    generator = random.Random(11)
    handler = MessageHandler(clock=OffsetClock())
    messages = [sample(n) for n in sample_names()]
    noise = "|^~\\&\r\n#\x00\x1c\x0bé"
    for _ in range(400):
        text = list(generator.choice(messages))
        for _ in range(generator.randint(1, 8)):
            where = generator.randrange(len(text) + 1)
            action = generator.random()
            if action < 0.4:
                text.insert(where, generator.choice(noise))
            elif action < 0.8 and text:
                del text[min(where, len(text) - 1)]
            else:
                text[where:where] = text[: generator.randint(0, 40)]
        ack = hl7.parse(handler.handle("".join(text)))
        assert field(ack, "MSA", 1) in ("AA", "AE", "AR")


def test_an_error_names_the_field_but_never_quotes_its_value() -> None:
    for start in ("00001105143000", "20301345143000", "20301105143000+2500", "soon"):
        ack = answer(siu(start=start))
        err = ack.segment("ERR")
        assert (field(ack, "MSA", 1), str(err(2))) == ("AE", "TQ1^1^7^1")
        assert str(err(3)).startswith("102^Data type error")
        reason = str(err(8))
        assert reason.startswith("the start: ") and start not in reason
        assert not any(part in reason for part in ("0000", "2030", "13", "45", "soon"))
