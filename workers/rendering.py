"""From stored facts to a spoken message: template, then speech, then encoded audio.

Shared by the render job and the staff preview, so what staff hear is exactly what the
patient will hear. A message from a clinic is rendered with the clinic's words
(``service.clinic_words.ClinicWords``): its lexicon, and its own wording where it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from service.clinic_words import ChosenWording, ClinicWords
from templates import (
    Message,
    MessageFacts,
    available_kinds,
    load_profile,
    reading_grade,
    render_message,
)
from templates import languages as template_languages
from voices import AudioFormat, LanguageVoice, Speaker, SpokenAudio

VARIANT_FOR_CHANNEL = {"phone": "call", "app": "app"}
FORMAT_FOR_CHANNEL = {"phone": AudioFormat.PHONE, "app": AudioFormat.APP}


@dataclass(frozen=True)
class RenderedMessage:
    message: Message
    audio: SpokenAudio
    wording: ChosenWording | None = None
    """The clinic wording version it said; None: the shipped text."""


@dataclass(frozen=True)
class Language:
    """A language the running configuration can both write and speak."""

    voice: LanguageVoice
    kinds: list[str]
    reviewed: bool


@dataclass(frozen=True)
class UnavailableLanguage:
    """A language with templates that the running configuration cannot speak."""

    code: str
    name: str
    native_name: str
    reason: str


def message_facts(facts: dict[str, Any]) -> MessageFacts:
    """The templates' view of a request's stored ``patient``/``clinic``/... blocks."""
    patient, clinic = facts["patient"], facts["clinic"]
    appointment = facts.get("appointment") or {}
    result = facts.get("result") or {}
    start = appointment.get("start")
    previous = appointment.get("previous_start")
    return MessageFacts(
        patient_name=patient["name"],
        clinic_name=clinic["name"],
        clinic_phone=clinic["callback_phone"],
        timezone=patient["timezone"],
        appointment_start=datetime.fromisoformat(start) if start else None,
        provider=appointment.get("provider"),
        location=appointment.get("location"),
        instructions=appointment.get("instructions"),
        ordered_by=result.get("ordered_by"),
        previous_start=datetime.fromisoformat(previous) if previous else None,
        question=(facts.get("follow_up") or {}).get("question"),
    )


class Renderer:
    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    def render(
        self,
        kind: str,
        language: str,
        variant: str,
        facts: dict[str, Any],
        fmt: AudioFormat,
        words: ClinicWords | None = None,
        *,
        today: datetime | None = None,
    ) -> RenderedMessage:
        """``words``: the clinic's, for ``language`` (``words.language`` wins, as the
        clinic's fallback may have changed it); ``today``: when it is rendered, so a day
        far from it is said with its year."""
        language = words.language if words is not None else language
        version = words.version_for(kind, variant) if words is not None else None
        message = render_message(
            kind,
            language,
            variant,
            message_facts(facts),
            wording=version.text if version else None,
            lexicon=words.lexicon if words is not None else (),
            today=today,
        )
        rate = facts["patient"].get("speech_rate", "normal")
        audio = self.speaker.speak(message.spoken, language, rate, fmt)
        return RenderedMessage(message=message, audio=audio, wording=version)

    @cached_property
    def _offered(self) -> dict[str, Language]:
        """Computed once: templates and voices are files that do not change while running."""
        written = set(template_languages())
        offered: dict[str, Language] = {}
        for voice in self.speaker.languages():
            if voice.code in written and (kinds := available_kinds(voice.code)):
                profile = load_profile(voice.code)
                reviewed = bool(profile and profile.reviewed)
                offered[voice.code] = Language(voice=voice, kinds=kinds, reviewed=reviewed)
        return offered

    def languages(self) -> list[Language]:
        return list(self._offered.values())

    def unavailable(self) -> list[UnavailableLanguage]:
        """Languages with templates that this configuration cannot speak, and why: listed
        for staff and callers instead of silently missing (Somali; Tagalog without gtts)."""
        written = set(template_languages())
        return [
            UnavailableLanguage(entry.code, entry.name, entry.native_name, entry.reason)
            for entry in self.speaker.unavailable()
            if entry.code in written and entry.code not in self._offered
        ]

    def language(self, code: str) -> Language | None:
        return self._offered.get(code)

    @cached_property
    def offered_kinds(self) -> dict[str, list[str]]:
        """The kinds each offered language can say, by language code (for request checks);
        made once, like ``_offered``, not on every request."""
        return {code: language.kinds for code, language in self._offered.items()}

    @staticmethod
    def reading_grade(message: Message) -> float | None:
        return reading_grade(message.text, message.language)
