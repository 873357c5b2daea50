"""SVOX Pico, the small offline voices of Android 2: Spanish, French, German, Italian and
English, far clearer than espeak-ng's for the same language and nearly as fast.

Run as the ``pico2wave`` program (Debian's ``libttspico-utils``, in the non-free
component; ``make voices`` installs it), one child per message, for the reasons in
``voices.child``. The text goes on stdin; Pico reads its input as text with a few
XML-like tags, so the text is XML-escaped (``<break time="10s"/>`` in a clinic's words
is read out, not obeyed) and wrapped in the one tag we set, the speed.

The voice data is the SVOX lingware Google published in the Android Open Source Project
under the Apache licence (its source was never published; Debian ships it in non-free
for that reason): redistributable and usable commercially.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from voices.base import InvalidRate, UnknownVoice, check_text
from voices.child import run_child_to_file

__all__ = ["PICO_NATURAL_WORDS_PER_MINUTE", "PICO_TIMEOUT_S", "PICO_VOICES", "PicoEngine"]

# The six voices the lingware holds; the voice name is the language tag pico2wave takes.
PICO_VOICES = frozenset({"en-US", "en-GB", "es-ES", "fr-FR", "de-DE", "it-IT"})

# Pico speaks a 40-word message in about 0.1 s; thirty seconds is far past any healthy run.
PICO_TIMEOUT_S = 30.0

# At speed 100 Pico lasts as long as espeak-ng at 150 words per minute on the same
# reminders (English 20.3 s vs 19.4 s, Spanish 12.8 s vs 12.9 s): the rate asked for is
# reached by scaling the speed from there.
PICO_NATURAL_WORDS_PER_MINUTE = 150

# Pico's documented speed range, in percent of its natural speed.
_MIN_SPEED, _MAX_SPEED = 20, 500


class PicoEngine:
    """The ``pico`` engine: a voice is one of ``PICO_VOICES``.

    Safe to share between threads: every call runs its own child process.
    """

    name = "pico"
    # A child start and a whole message cost about 0.1 s: one run per message.
    sentence_cache = False
    # The program as Debian installs it; ``configured_speaker`` looks for it on PATH.
    program = "pico2wave"

    def __init__(self, executable: str | None = None, *, timeout_s: float = PICO_TIMEOUT_S):
        # Not looked up here: whether it is installed is configured_speaker's question.
        self._executable = executable or self.program
        self._timeout_s = timeout_s

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with Pico's ``voice``; a 16 kHz 16-bit mono WAV."""
        text = check_text(text)
        if voice not in PICO_VOICES:
            raise UnknownVoice(f"pico has no voice {voice!r}; it has {sorted(PICO_VOICES)}")
        speed = round(100 * words_per_minute / PICO_NATURAL_WORDS_PER_MINUTE)
        if not _MIN_SPEED <= speed <= _MAX_SPEED:
            raise InvalidRate(f"pico cannot speak {words_per_minute} words per minute")
        marked = f'<speed level="{speed}">{escape(text)}</speed>'
        return run_child_to_file(
            [self._executable, "-l", voice, "-w", "{out}"],
            marked.encode("utf-8"),
            timeout_s=self._timeout_s,
            program="pico2wave",
        )
