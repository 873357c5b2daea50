"""A lint for voicemails: does this message say more than the minimum necessary?

Anyone in the household may play a voicemail. HIPAA's minimum-necessary rule, as this
project reads it, allows: the clinic's name, the patient's first name, the appointment's
day and time, and the call-back number. ``voicemail_findings`` lists every other fact it
finds (provider, place, instructions, who ordered tests, the rest of the patient's name)
and any private word from the language's ``private_words`` (test, result, lab...). It also
flags a voicemail that lacks the clinic or the call-back number: a voicemail nobody can
act on fails the patient too. Findings name fields, never values, so they may be logged.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from templates.locales import TEMPLATE_ROOT, load_profile
from templates.render import Message, MessageFacts
from templates.speech import display_phone, spoken_phone


def _fold(text: str) -> str:
    """Lower case without accents, so "López" and "LOPEZ" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _said(text: str) -> str:
    return " ".join(_fold(text).split())


def _says_word(haystack: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_fold(word))}(?!\w)", haystack) is not None


def _says_phrase(haystack: str, phrase: str) -> bool:
    phrase = " ".join(_fold(phrase).split()).strip(" .!?")
    return bool(phrase) and phrase in haystack


def voicemail_findings(
    message: Message, facts: MessageFacts, *, root: Path = TEMPLATE_ROOT
) -> list[str]:
    """What ``message`` says beyond clinic, first name, day and time, and call-back number.

    An empty list means the voicemail is fit to leave.
    """
    profile = load_profile(message.language, root)
    locale = profile.locale if profile else "en_US"
    heard = _said(f"{message.text} \n {message.spoken}")
    clinic = _said(facts.clinic_name)
    # The clinic's name is allowed, and must not trip the word checks ("Cancer Center").
    without_clinic = heard.replace(clinic, " ")

    findings: list[str] = []
    for field in ("provider", "ordered_by"):
        name = getattr(facts, field)
        titles = {_fold(t.written.rstrip(".")) for t in profile.titles} if profile else set()
        words = [w for w in re.findall(r"\w+", name or "") if _fold(w) not in titles]
        if any(len(w) > 1 and _says_word(without_clinic, w) for w in words):
            findings.append(f"{field} is said")
    for field in ("location", "instructions"):
        value = getattr(facts, field)
        if value and _says_phrase(without_clinic, value):
            findings.append(f"{field} is said")
    rest_of_name = facts.patient_name.split()[1:]
    if any(_says_word(without_clinic, w) for w in rest_of_name):
        findings.append("patient_name is said in full (only the first name may be)")
    private = profile.private_words if profile else ()
    for word in private:
        if _says_word(without_clinic, word):
            findings.append(f"private word said: {word!r}")
    if clinic not in heard:
        findings.append("clinic_name is missing")
    if (
        display_phone(facts.clinic_phone, locale) not in message.text
        or spoken_phone(facts.clinic_phone, locale) not in message.spoken
    ):
        findings.append("clinic_phone (the call-back number) is missing")
    return findings
