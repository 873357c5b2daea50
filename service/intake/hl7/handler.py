"""One HL7 message in, its ACK out: parse, hand to the sink, acknowledge.

``MessageHandler.handle`` is what the MLLP listener calls for each message (off the event
loop). It never raises: whatever happens, the sender gets an ACK it can act on — AA, AE
with an ERR naming the segment and field, or AR — and an unexpected failure is an AE with
code 207 (application internal error), which an interface engine retries. The log line
per message holds the trigger, the control id, the outcome with the sink's reason (plain
words, such as why a patient needs attention) and the ERR location, never a value from
the message's body.
"""

from __future__ import annotations

import logging

from service.clock import SYSTEM_CLOCK, Clock
from service.intake.hl7.ack import AckError, build_ack
from service.intake.hl7.parse import parse_schedule_message
from service.intake.hl7.schedule import AckCode, ErrorCode, Location, MessageRefused
from service.intake.hl7.sink import Outcome, ScheduleSink

log = logging.getLogger(__name__)

_SINK_ACKS = {
    Outcome.STORED: AckCode.ACCEPT,
    Outcome.NEEDS_ATTENTION: AckCode.ACCEPT,
    Outcome.DUPLICATE: AckCode.ACCEPT,
    Outcome.OUT_OF_DATE: AckCode.ACCEPT,
    Outcome.UNKNOWN_FACILITY: AckCode.ERROR,
}
UNKNOWN_FACILITY = AckError(
    Location("MSH", 4), ErrorCode.UNKNOWN_KEY, "no clinic goes by this sending facility"
)
INTERNAL_ERROR = AckError(
    Location("MSH"), ErrorCode.INTERNAL_ERROR, "the message could not be processed; send it again"
)


class MessageHandler:
    """Parses each message and passes it to ``sink``.

    Without a sink (tests of parsing and framing) a message that parses is acknowledged
    AA and kept nowhere; ``tellwell mllp`` and ``tellwell serve`` pass
    ``store.StoringSink``.
    """

    def __init__(self, sink: ScheduleSink | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.sink = sink
        self.clock = clock

    def handle(self, text: str) -> str:
        """The ACK text for one message's text."""
        try:
            return self._handle(text)
        except Exception as err:  # a bug here must still leave the sender an answer
            log.error("hl7 message not handled: %s", type(err).__name__)
            return build_ack("", AckCode.ERROR, self.clock.now(), INTERNAL_ERROR)

    def _handle(self, text: str) -> str:
        try:
            message = parse_schedule_message(text)
        except MessageRefused as refused:
            error = AckError(refused.location, refused.error, refused.reason)
            return self._answer(text, refused.ack_code, error, "refused")
        name = f"{message.trigger.value} {message.control_id}"
        if self.sink is None:
            return self._answer(text, AckCode.ACCEPT, None, "read, not stored", name)
        try:
            result = self.sink.apply(message)
        except MessageRefused as refused:  # read, but a field cannot be stored as it is
            error = AckError(refused.location, refused.error, refused.reason)
            return self._answer(text, refused.ack_code, error, "not stored", name)
        except Exception as err:  # the sender must get an answer; it will retry
            log.error("hl7 message %s not stored: %s", name, type(err).__name__)
            return self._answer(text, AckCode.ERROR, INTERNAL_ERROR, "failed", name)
        code = _SINK_ACKS[result.outcome]
        unknown = UNKNOWN_FACILITY if result.outcome is Outcome.UNKNOWN_FACILITY else None
        said = result.outcome.value + (f" ({result.reason})" if result.reason else "")
        return self._answer(text, code, unknown or result.warning, said, name)

    def _answer(
        self, text: str, code: AckCode, error: AckError | None, outcome: str, name: str = ""
    ) -> str:
        """The ACK, and one log line: trigger, control id, outcome, ERR location."""
        ack = build_ack(text, code, self.clock.now(), error)
        where = f" at {error.location} ({error.code.value})" if error else ""
        log.info("hl7 message %s answered %s: %s%s", name or "-", code.value, outcome, where)
        return ack
