"""Which of a patient's HL7 phone numbers to call, read as E.164 with the clinic's country.

A reminder is a voice call to the patient, so: a cell phone first (the patient carries
it), then the home number, then another personal number; never a work number (PID-14, or
use WPN: a colleague answers), a fax, a modem, a pager, a TDD, or an e-mail address.
Numbers are read with ``phonenumbers``: a local number ("(555)555-1234", "055566068")
is read as a number of the clinic's country; one that is not a valid number there is
skipped, and when none is left the reason says why, for staff to fix the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from service.intake.hl7.schedule import PhoneNumber

BUSINESS_FIELD = 14
"""PID-14, the business number: never called, whatever its codes say."""
NOT_FOR_VOICE_EQUIPMENT = frozenset({"FX", "MD", "BP", "INTERNET", "X.400", "TDD", "TTY"})
"""Table 0202 equipment a voice call cannot reach: fax, modem, beeper, e-mail, text phones."""
NOT_THE_PATIENT_USES = frozenset({"WPN", "NET", "BPN", "ASN", "EMR"})
"""Table 0201 uses that reach someone else or nothing: work, e-mail, beeper, answering
service, emergency contact."""
CELL, HOME, OTHER_PERSONAL = 0, 1, 2
"""Ranks, best first."""
HOME_USES = frozenset({"PRN", ""})
"""A PID-13 number without a use code is the home number (2.3 senders send only that)."""


@dataclass(frozen=True)
class PhoneChoice:
    """The number to call in E.164 and where it came from, or None and why there is none."""

    e164: str | None
    source: PhoneNumber | None = None
    reason: str = ""


def choose_phone(phones: Iterable[PhoneNumber], country: str) -> PhoneChoice:
    """The best number to call among ``phones``; ``country`` (ISO 3166 alpha-2, the
    clinic's) reads numbers written without a country code.

    A number without an equipment code counts as a cell when its numbering plan says it
    is a mobile number (a UK "07…" number sent as PRS, personal).
    """
    ranked: list[tuple[int, int, str, PhoneNumber]] = []
    skipped_kinds = skipped_invalid = 0
    for order, phone in enumerate(phones):
        if not _may_call(phone):
            skipped_kinds += 1
            continue
        parsed = _parse(phone.number, country)
        if parsed is None:
            skipped_invalid += 1
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        ranked.append((_rank(phone, parsed), order, e164, phone))
    if ranked:
        _, _, e164, phone = min(ranked, key=lambda r: (r[0], r[1]))
        return PhoneChoice(e164, phone)
    if skipped_invalid:
        return PhoneChoice(None, reason=f"no phone number is a valid number for {country}")
    if skipped_kinds:
        return PhoneChoice(None, reason="only work, fax, pager or e-mail contacts are given")
    return PhoneChoice(None, reason="no phone number is given")


def _may_call(phone: PhoneNumber) -> bool:
    use, equipment = phone.use.upper(), phone.equipment.upper()
    return not (
        not phone.number
        or phone.extension
        or phone.source.field == BUSINESS_FIELD
        or use in NOT_THE_PATIENT_USES
        or equipment in NOT_FOR_VOICE_EQUIPMENT
    )


def _rank(phone: PhoneNumber, parsed: phonenumbers.PhoneNumber) -> int:
    equipment = phone.equipment.upper()
    if equipment == "CP":
        return CELL
    # The numbering plan (slow to ask) only when no equipment code says what the phone is.
    if not equipment and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE:
        return CELL
    if phone.use.upper() in HOME_USES:
        return HOME
    return OTHER_PERSONAL


def _parse(number: str, country: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(number, country.upper())
    except phonenumbers.NumberParseException:
        return None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        return None
    return parsed
