"""RHVoice, offline voices for languages espeak-ng speaks poorly: Russian and Brazilian
Portuguese here (Ukrainian, Polish and others exist).

Run as the ``RHVoice-test`` program (Debian's ``rhvoice`` and ``rhvoice-<language>``, in
the non-free component; ``make voices`` installs them), one child per message, for the
reasons in ``voices.child``. The text goes on stdin as plain text (not SSML), so markup
in a clinic's words is read, not obeyed.

Licences differ per voice, and several RHVoice voices forbid commercial use
(CC BY-NC-ND 4.0: Russian artemiy, arina, mikhail, pavel, tatiana, victoria, vitaliy,
yuriy; Polish magda and natan; English evgeniy-eng and lyubov). A hospital's reminder
service is commercial use, so the catalog offers only voices whose licence allows it
(``ALLOWED_VOICES``), and this engine refuses the others even if a catalog names them.
"""

from __future__ import annotations

from voices.base import InvalidRate, UnknownVoice, check_text
from voices.child import run_child_to_file

__all__ = [
    "ALLOWED_VOICES",
    "RHVOICE_NATURAL_WORDS_PER_MINUTE",
    "RHVOICE_TIMEOUT_S",
    "RhvoiceEngine",
]

# Voice -> its licence, from Debian's copyright file for rhvoice 1.8.0+dfsg-3
# (/usr/share/doc/rhvoice/copyright): the voices under "data/*" are LGPL-2.1+,
# Leticia-F123 and aleksandr-hq are CC-BY-SA-4.0. All allow commercial use.
ALLOWED_VOICES: dict[str, str] = {
    "aleksandr-hq": "CC-BY-SA-4.0",
    "aleksandr": "LGPL-2.1-or-later",
    "anna": "LGPL-2.1-or-later",
    "elena": "LGPL-2.1-or-later",
    "irina": "LGPL-2.1-or-later",
    "anatol": "LGPL-2.1-or-later",
    "natalia": "LGPL-2.1-or-later",
    "Leticia-F123": "CC-BY-SA-4.0",
    "slt": "LGPL-2.1-or-later",
    "bdl": "LGPL-2.1-or-later",
    "clb": "LGPL-2.1-or-later",
    "alan": "LGPL-2.1-or-later",
}

# Loading a voice costs about 0.3 s; a message is spoken in well under a second.
RHVOICE_TIMEOUT_S = 30.0

# At rate 100% RHVoice speaks the English sample reminder in 15.8 s where espeak-ng at
# 150 words per minute takes 19.4 s: about 184 words per minute.
RHVOICE_NATURAL_WORDS_PER_MINUTE = 184

# RHVoice's rate is a percentage of its natural speed; outside this it distorts.
_MIN_RATE, _MAX_RATE = 25, 300


class RhvoiceEngine:
    """The ``rhvoice`` engine: a voice is one of ``ALLOWED_VOICES``.

    Safe to share between threads: every call runs its own child process.
    """

    name = "rhvoice"
    # Each child loads its voice (about 0.3 s): one run per message, not per sentence.
    sentence_cache = False
    # The program as Debian installs it; ``configured_speaker`` looks for it on PATH.
    program = "RHVoice-test"

    def __init__(
        self, executable: str | None = None, *, timeout_s: float = RHVOICE_TIMEOUT_S
    ) -> None:
        self._executable = executable or self.program
        self._timeout_s = timeout_s

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with RHVoice's ``voice``; a 24 kHz 16-bit mono WAV."""
        text = check_text(text)
        if voice not in ALLOWED_VOICES:
            raise UnknownVoice(
                f"rhvoice voice {voice!r} is not offered (unknown, or its licence forbids "
                "commercial use)"
            )
        rate = round(100 * words_per_minute / RHVOICE_NATURAL_WORDS_PER_MINUTE)
        if not _MIN_RATE <= rate <= _MAX_RATE:
            raise InvalidRate(f"rhvoice cannot speak {words_per_minute} words per minute")
        return run_child_to_file(
            [self._executable, "-p", voice, "-r", str(rate), "-o", "{out}"],
            text.encode("utf-8"),
            timeout_s=self._timeout_s,
            program="RHVoice-test",
        )
