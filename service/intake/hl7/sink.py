"""Where a parsed schedule message goes: the seam the store step implements.

The listener and the ACK know nothing of appointments; the store step (clinic lookup by
``ScheduleMessage.facility``, the appointment upsert, reminder planning, duplicate and
out-of-order checks) implements ``ScheduleSink`` and says what became of the message.
Each outcome has one acknowledgment (``handler.MessageHandler``):

============================  ====  =====================================================
outcome                       ACK   meaning
============================  ====  =====================================================
``stored``                    AA    the appointment now says what the message says
``needs_attention``           AA    stored, but the patient cannot be reached as it is
                                    (no usable phone, no voice for the language):
                                    ``reason`` says why, for staff
``duplicate``                 AA    this facility sent this control id before: nothing
                                    changed, the sender gets the answer it got then
``out_of_date``               AA    a newer message about the appointment was stored
                                    first: nothing changed
``unknown_facility``          AE    no clinic goes by MSH-4 (ERR names MSH-4, code 204)
============================  ====  =====================================================

A stored message may carry a ``warning``: its ACK is still AA, with an ERR of severity W
naming the field (free text in another language than the patient's).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from service.intake.hl7.ack import AckError
from service.intake.hl7.schedule import ScheduleMessage


class Outcome(StrEnum):
    STORED = "stored"
    NEEDS_ATTENTION = "needs_attention"
    DUPLICATE = "duplicate"
    OUT_OF_DATE = "out_of_date"
    UNKNOWN_FACILITY = "unknown_facility"


@dataclass(frozen=True)
class SinkResult:
    """What the store step did with one message; ``reason`` is plain words without PHI."""

    outcome: Outcome
    reason: str = ""
    warning: AckError | None = None
    """An ERR of severity W for the ACK: stored, but a field should be fixed."""


class ScheduleSink(Protocol):
    """Stores what a schedule message says. Called off the event loop, one message of a
    connection at a time (so a sender's order is kept), from several connections at once.
    """

    def apply(self, message: ScheduleMessage) -> SinkResult: ...
