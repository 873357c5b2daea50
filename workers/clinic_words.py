"""The clinic words' steps that need a voice: hearing a word before it is saved, and the
length gate on a clinic's wording (``save_wording``: the API and the console save through it).

Both speak through the pipeline's own ``Speaker``, so staff hear the engine and voice
patients will hear, and both store the audio as previews do (``store_audio``): it is
reached only through a signed link.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.call_policy import CALL_MESSAGE_MAX_S, PACED_HEARING_MAX_S
from service.clinic_words import WordingKey, save_version
from service.errors import FieldError, ValidationProblem
from service.models import WordingVersion, audit
from service.security import Caller
from templates import check_wording, render_message, sample_facts
from voices import AudioFormat, SpokenAudio
from workers.pipeline import Pipeline, store_audio
from workers.rendering import SLOWEST, Renderer

SLOW = "slow"
"""The length gate speaks at the slow rate: the longest a patient may hear it."""
TIMED_VARIANTS = frozenset({"call", "voicemail"})
"""Variants held to ``CALL_MESSAGE_MAX_S``; an app message is read or replayed at will."""


@dataclass(frozen=True)
class Audition:
    written: SpokenAudio
    spoken: SpokenAudio


def audition(
    session: Session,
    caller: Caller,
    pipeline: Pipeline,
    clinic_id: str,
    language: str,
    written: str,
    spoken: str,
) -> Audition:
    """The word as the engine says it alone, and the spoken form; commits audio and audit."""
    speaker = pipeline.renderer.speaker
    heard = Audition(
        written=speaker.speak(written, language, "normal", AudioFormat.PREVIEW),
        spoken=speaker.speak(spoken, language, "normal", AudioFormat.PREVIEW),
    )
    store_audio(session, heard.written, pipeline.audio_store)
    store_audio(session, heard.spoken, pipeline.audio_store)
    audit(session, caller.id, "lexicon.audition", "clinic", clinic_id, {"language": language})
    session.commit()
    return heard


def gate_wording(renderer: Renderer, text: str, kind: str, language: str, variant: str) -> None:
    """Raise ``ValidationProblem`` (field ``text``) naming every gate the wording fails.

    The gates of ``templates.check_wording``, then the length: the sample message spoken
    at the slow rate by the real engine must last ``CALL_MESSAGE_MAX_S`` or less, and one
    hearing for the slowest accessibility profile (``SLOWEST``) ``PACED_HEARING_MAX_S``
    or less, so no patient's profile can make a saved wording fail its call.
    """
    report = check_wording(text, kind, language, variant)
    problems = list(report.problems)
    if report.sample_message is not None and variant in TIMED_VARIANTS:
        said = renderer.speaker.speak(
            report.sample_message.spoken, language, SLOW, AudioFormat.PHONE
        )
        if said.duration_s > CALL_MESSAGE_MAX_S:
            problems.append(
                f"too long: {said.duration_s:.0f} s at the slow rate with sample facts, "
                f"over {CALL_MESSAGE_MAX_S:.0f} s"
            )
        elif (paced := _slowest_hearing_s(renderer, text, kind, language, variant)) > (
            PACED_HEARING_MAX_S
        ):
            problems.append(
                f"too long: {paced:.0f} s with sample facts for a patient who asked for "
                f"long pauses and the repeat key twice, over {PACED_HEARING_MAX_S:.0f} s"
            )
    if problems:
        raise ValidationProblem([FieldError("text", problem) for problem in problems])


def _slowest_hearing_s(
    renderer: Renderer, text: str, kind: str, language: str, variant: str
) -> float:
    """One hearing of the wording with sample facts for the slowest profile (``SLOWEST``)."""
    message = render_message(
        kind,
        language,
        variant,
        sample_facts(kind, language),
        wording=text,
        offer_repeat_twice=SLOWEST.offer_repeat_twice,
    )
    return renderer.speaker.speak(
        message.spoken, language, SLOWEST.speech_rate, AudioFormat.PHONE, pause_s=SLOWEST.pause_s
    ).duration_s


def save_wording(
    session: Session,
    caller: Caller,
    renderer: Renderer,
    clinic_id: str,
    key: WordingKey,
    language: str,
    text: str,
) -> WordingVersion:
    """Gate ``text``, then store it as the next version with its audit entry (not committed).

    Raises ``ValidationProblem`` (field ``text``) before anything is written when a gate fails.
    """
    kind, variant = key
    gate_wording(renderer, text, kind, language, variant)
    version = save_version(session, caller, clinic_id, key, language, text)
    detail = {"language": language, "kind": kind, "variant": variant, "number": version.number}
    audit(session, caller.id, "wording.create", "clinic", clinic_id, detail)
    return version
