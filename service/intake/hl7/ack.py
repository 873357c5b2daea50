"""HL7 v2 acknowledgments (original mode): ``MSH`` mirroring the sender, ``MSA``, ``ERR``.

The ACK's header is read from the incoming MSH directly, not from a full parse, so a
message too broken to parse still gets an answer that names it (MSA-2 is its MSH-10) in
its own delimiters, version and character set. An ERR segment has the shape of the
sender's version: ERR-1 (segment^sequence^field^code) for 2.3-2.4; for 2.5 on, ERR-2
(the location), ERR-3 (the table 0357 code) and ERR-4 (severity). The reason in words
(never a value from the message) goes in MSA-3 up to 2.4 and in ERR-8 from 2.5.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from service.intake.hl7.schedule import AckCode, ErrorCode, Location

OUR_APPLICATION = "TELLWELL"
"""MSH-3 of our ACKs when the sender did not name us in its MSH-5."""
DEFAULT_VERSION = "2.5.1"
ERROR_TABLE = "HL70357"
ERROR_SEVERITY = "E"
WARNING_SEVERITY = "W"
CONTROL_ID_BYTES = 10
"""20 hex characters: MSH-10 is at most 20 long in 2.3-2.4."""
_DELIMITERS = re.compile(r"[^\w\s]{5}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AckError:
    """What the ERR segment says: where, the table 0357 code, and why in words."""

    location: Location
    code: ErrorCode
    reason: str
    severity: str = ERROR_SEVERITY
    """ERR-4 (2.5 on): ``E``, or ``W`` for a warning on a message that was taken (AA)."""


@dataclass(frozen=True)
class Delimiters:
    """MSH-1 and MSH-2: the characters that separate and escape, the sender's choice."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent


@dataclass(frozen=True)
class _Header:
    """The incoming MSH as raw fields (still escaped in the sender's delimiters)."""

    delimiters: Delimiters
    fields: tuple[str, ...]

    def get(self, number: int) -> str:
        """MSH-``number``; MSH-1 is the field separator, so MSH-n is ``fields[n - 2]``."""
        index = number - 2
        return self.fields[index] if 0 <= index < len(self.fields) else ""

    def component(self, number: int, component: int) -> str:
        parts = self.get(number).split(self.delimiters.component)
        return parts[component - 1] if len(parts) >= component else ""

    @property
    def version(self) -> str:
        return self.component(12, 1)


def read_header(text: str) -> _Header:
    """The first segment of ``text`` as MSH fields; empty fields when it is not an MSH
    with usable delimiters (five distinct characters, none a letter, digit or space).

    Control characters are dropped from the fields: echoed into the ACK, a <FS> would end
    its MLLP block early at the sender.
    """
    first = re.split(r"[\r\n]", text.lstrip(), maxsplit=1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return _Header(Delimiters(), ())
    separator = first[3]
    fields = first[4:].split(separator)
    chosen = separator + fields[0][:4]
    if not _DELIMITERS.fullmatch(chosen) or len(set(chosen)) != len(chosen):
        return _Header(Delimiters(), ())
    clean = tuple(_CONTROL.sub("", f) for f in fields)
    return _Header(Delimiters(*chosen), clean)


def build_ack(incoming: str, code: AckCode, now: datetime, error: AckError | None = None) -> str:
    """The ACK for ``incoming`` (its text as received), ending with a segment separator."""
    header = read_header(incoming)
    delimiters = header.delimiters
    field, component = delimiters.field, delimiters.component
    version = header.version or DEFAULT_VERSION
    trigger = header.component(9, 2)
    message_type = "ACK" if not trigger else f"ACK{component}{trigger}"
    if trigger and version != "2.3":
        message_type += f"{component}ACK"
    msh = [
        "MSH",
        delimiters.encoding_characters,
        header.get(5) or OUR_APPLICATION,
        header.get(6),
        header.get(3),
        header.get(4),
        now.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000"),
        "",
        message_type,
        secrets.token_hex(CONTROL_ID_BYTES),
        header.get(11) or "P",
        header.get(12) or DEFAULT_VERSION,
    ]
    if header.get(18):
        msh += ["", "", "", "", "", header.get(18)]
    old_style = _is_before_2_5(version)
    msa = ["MSA", code.value, header.get(10)]
    if error is not None and old_style:
        msa.append(_escaped(error.reason, delimiters))
    segments = [field.join(msh), field.join(msa)]
    if error is not None:
        segments.append(field.join(_err(error, delimiters, old_style)))
    return "\r".join(segments) + "\r"


def _err(error: AckError, delimiters: Delimiters, old_style: bool) -> list[str]:
    component, subcomponent = delimiters.component, delimiters.subcomponent
    where = error.location
    code = [error.code.value, error.code.text, ERROR_TABLE]
    if old_style:
        eld = [where.segment, str(where.sequence), _number(where.field), subcomponent.join(code)]
        return ["ERR", component.join(eld)]
    erl = [
        where.segment,
        str(where.sequence),
        _number(where.field),
        "1" if where.field is not None else "",
        _number(where.component),
    ]
    return [
        "ERR",
        "",
        component.join(erl).rstrip(component),
        component.join(code),
        error.severity,
        "",
        "",
        "",
        _escaped(error.reason, delimiters),
    ]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _is_before_2_5(version: str) -> bool:
    numbers = re.match(r"(\d+)\.(\d+)", version)
    return numbers is not None and (int(numbers[1]), int(numbers[2])) < (2, 5)


def _escaped(text: str, delimiters: Delimiters) -> str:
    """``text`` with the sender's delimiters written as HL7 escape sequences."""
    escape = delimiters.escape
    text = text.replace(escape, f"{escape}E{escape}")
    for char, name in (
        (delimiters.field, "F"),
        (delimiters.component, "S"),
        (delimiters.repetition, "R"),
        (delimiters.subcomponent, "T"),
    ):
        text = text.replace(char, f"{escape}{name}{escape}")
    return text.replace("\r", " ").replace("\n", " ")
