"""From stored facts to a spoken message: template, then speech, then encoded audio.

Shared by the render job and the staff preview, so what staff hear is exactly what the
patient will hear. A message from a clinic is rendered with the clinic's words
(``service.clinic_words.ClinicWords``): its lexicon, and its own wording where it has one.
The patient's accessibility profile (``AccessProfile``, from their facts) decides the rate,
the pause between sentences, the repeat key offered twice and the whole call said twice;
keypad replies are spoken with the same rate and pause (``Renderer.reply``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from service.call_policy import CALL_MESSAGE_MAX_S, PACED_HEARING_MAX_S
from service.clinic_words import ChosenWording, ClinicWords
from templates import (
    KEYPAD_REPLIES,
    Message,
    MessageFacts,
    available_kinds,
    keypad_reply,
    load_profile,
    reading_grade,
    render_message,
    repeated,
)
from templates import languages as template_languages
from voices import AudioFormat, LanguageVoice, Speaker, SpokenAudio
from voices.audio import LONG_SENTENCE_PAUSE_S, SENTENCE_PAUSE_S

VARIANT_FOR_CHANNEL = {"phone": "call", "app": "app"}
FORMAT_FOR_CHANNEL = {"phone": AudioFormat.PHONE, "app": AudioFormat.APP}


REPEATED_VARIANTS = frozenset({"call"})
"""Where ``repeat_message`` says the message twice: a live call passes once; a voicemail
or the app's audio can be played again at will."""
PAUSES_S = {"normal": SENTENCE_PAUSE_S, "long": LONG_SENTENCE_PAUSE_S}
"""Seconds of silence between sentences, by the profile's ``sentence_pause``."""


@dataclass(frozen=True)
class AccessProfile:
    """How a patient asked to hear their messages: the ``patient`` facts ``speech_rate``,
    ``sentence_pause``, ``repeat_message`` and ``offer_repeat_twice`` (absent: standard)."""

    speech_rate: str = "normal"
    sentence_pause: str = "normal"
    repeat_message: bool = False
    offer_repeat_twice: bool = False

    @classmethod
    def of(cls, facts: dict[str, Any]) -> AccessProfile:
        patient = facts["patient"]
        return cls(
            speech_rate=patient.get("speech_rate") or "normal",
            sentence_pause=patient.get("sentence_pause") or "normal",
            repeat_message=bool(patient.get("repeat_message")),
            offer_repeat_twice=bool(patient.get("offer_repeat_twice")),
        )

    @property
    def pause_s(self) -> float:
        return PAUSES_S[self.sentence_pause]

    @property
    def hearing_max_s(self) -> float:
        """The longest one hearing may last for this profile (``service.call_policy``)."""
        paced = self.sentence_pause != "normal" or self.offer_repeat_twice
        return PACED_HEARING_MAX_S if paced else CALL_MESSAGE_MAX_S


SLOWEST = AccessProfile(speech_rate="slow", sentence_pause="long", offer_repeat_twice=True)
"""The longest one hearing can be: what a clinic's wording is timed at, besides the slow
rate alone."""


@dataclass(frozen=True)
class RenderedMessage:
    message: Message
    audio: SpokenAudio
    wording: ChosenWording | None = None
    """The clinic wording version it said; None: the shipped text."""
    hearing_s: float = 0.0
    """How long one hearing of the message lasts: ``audio`` holds two when the profile
    repeats it (``AccessProfile.repeat_message``)."""
    profile: AccessProfile = AccessProfile()


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
        far from it is said with its year. The patient's ``AccessProfile`` shapes it."""
        language = words.language if words is not None else language
        version = words.version_for(kind, variant) if words is not None else None
        profile = AccessProfile.of(facts)
        once = render_message(
            kind,
            language,
            variant,
            message_facts(facts),
            wording=version.text if version else None,
            lexicon=words.lexicon if words is not None else (),
            today=today,
            offer_repeat_twice=profile.offer_repeat_twice,
        )
        audio = self._speak(once.spoken, language, profile, fmt)
        if not (profile.repeat_message and variant in REPEATED_VARIANTS):
            return RenderedMessage(once, audio, version, audio.duration_s, profile)
        twice = repeated(once)
        return RenderedMessage(
            twice,
            self._speak(twice.spoken, language, profile, fmt),
            version,
            audio.duration_s,
            profile,
        )

    def call_extras(
        self,
        kind: str,
        facts: dict[str, Any],
        words: ClinicWords | None = None,
        *,
        language: str,
        today: datetime | None = None,
    ) -> SpokenAudio:
        """What a call placed by a provider needs beside its message: the keypad replies,
        spoken ahead so a keypress is answered at once (the cache keeps them), and the
        voicemail variant, returned."""
        fmt = FORMAT_FOR_CHANNEL["phone"]
        for reply in KEYPAD_REPLIES:
            self.reply(language, reply, facts, fmt)
        return self.render(kind, language, "voicemail", facts, fmt, words, today=today).audio

    def reply(
        self,
        language: str,
        name: str,
        facts: dict[str, Any],
        fmt: AudioFormat,
        action: str = "confirm",
    ) -> SpokenAudio:
        """A keypad reply (``templates.keypad_reply``; ``action``: the one a
        ``speech_check`` asks about) as this patient hears the message: same rate, same
        pauses. Raises ``UnknownTemplate`` if the language lacks it."""
        text = keypad_reply(language, name, action=action)
        return self._speak(text, language, AccessProfile.of(facts), fmt)

    def _speak(
        self, text: str, language: str, profile: AccessProfile, fmt: AudioFormat
    ) -> SpokenAudio:
        return self.speaker.speak(text, language, profile.speech_rate, fmt, pause_s=profile.pause_s)

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
