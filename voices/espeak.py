"""espeak-ng, run directly as a child process: the offline default engine.

Why a subprocess and not a binding: the ``espeak-ng`` program is what the distribution
ships and tests, a child can be killed when it overruns, and a crash in the C library
cannot take the service down with it.

How the text travels matters for safety and correctness:

- on stdin, never argv, so text starting with "-" is read as words, not as an option,
  and message text never shows in a process listing;
- with ``--stdin`` (read everything, then speak), because without it espeak-ng speaks
  stdin line by line in 1,000-byte pieces, cutting long lines mid-word;
- in SSML mode (``-m``) with the text XML-escaped, so "&" and "<" are spoken as written
  and a text cannot smuggle in markup such as ``<break time="10s"/>``.
"""

from __future__ import annotations

import io
import re
import struct
import wave
from xml.sax.saxutils import escape

from voices.audio import SENTENCE_PAUSE_S
from voices.base import (
    InvalidRate,
    SynthesisFailed,
    UnknownVoice,
    check_text,
)
from voices.child import run_child
from voices.scripts import closes_sentence, sentences

__all__ = [
    "ESPEAK_MAX_WORDS_PER_MINUTE",
    "ESPEAK_MIN_WORDS_PER_MINUTE",
    "ESPEAK_TIMEOUT_S",
    "EspeakEngine",
    "ssml_for",
]

# espeak-ng speaks about 100 times faster than real time; the longest text we accept
# (MAX_TEXT_CHARS, ~6 minutes of speech) renders in a few seconds. Thirty seconds is far
# past any healthy run, and short enough that a stuck child does not hold a worker.
ESPEAK_TIMEOUT_S = 30.0

# espeak-ng's documented range for -s; outside it the library clamps silently, which
# would hand back a different rate from the one asked for.
ESPEAK_MIN_WORDS_PER_MINUTE = 80
ESPEAK_MAX_WORDS_PER_MINUTE = 450

# espeak-ng copies the -v value into a 40-byte buffer and cuts the rest off silently.
_MAX_VOICE_NAME_CHARS = 39
# Voice names and file ids as espeak-ng lists them ("en-us", "es-419", "gmw/en-US",
# "en-us+f3"). The leading character rules out a voice that would read as an option.
_VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+/-]*")

# When espeak-ng writes to a pipe it cannot seek back, so its 44-byte header keeps
# placeholder sizes; the header layout below is fixed in espeak-ng's OpenWavFile().
_WAV_HEADER_BYTES = 44
_PCM_FORMAT_TAG = 1

# Diagnostics that espeak-ng's own code prints, none of which quote the input text. Any
# other stderr line is withheld from exception messages, since it could echo PHI.
_KNOWN_DIAGNOSTIC = re.compile(
    r"(Error: |Failed to read |Initialization failed|Can't write to|espeak_Synchronize)"
)
# Enough for espeak-ng's one-line errors; keeps a runaway stderr out of the logs.
_MAX_DIAGNOSTIC_CHARS = 500


# espeak-ng 1.51's Japanese voice spells Latin-script words letter by letter, so "Riverside
# Clinic" reaches a Japanese patient as a string of nineteen English letter names; an
# English voice at least says the name as a name. Other voices switch to English words on
# their own.
LATIN_WORDS_VOICE = {"ja": "en-us"}
_LATIN_LETTER = r"[A-Za-z\u00C0-\u024F]"
_LATIN_RUN = re.compile(rf"{_LATIN_LETTER}(?:[A-Za-z\u00C0-\u024F'’.\- ]*{_LATIN_LETTER})?")


def ssml_for(text: str, voice: str = "") -> str:
    """The SSML body espeak-ng is given for ``text``: each sentence XML-escaped, a
    ``<break>`` of ``SENTENCE_PAUSE_S`` between sentences (the pause the Speaker puts
    between separately spoken sentences, so every engine paces a message alike), and
    Latin-script names handed to an English voice where ``voice`` would spell them.

    No ``<speak>`` wrapper: espeak-ng already treats stdin as SSML under ``-m``.
    """
    pause = f'<break time="{round(SENTENCE_PAUSE_S * 1000)}ms"/>'
    latin_voice = LATIN_WORDS_VOICE.get(voice)
    return pause.join(_ssml_sentence(part, latin_voice) for part in sentences(text))


def _ssml_sentence(sentence: str, latin_voice: str | None) -> str:
    if latin_voice is None:
        return _xml_text(sentence)
    pieces, start = [], 0
    for run in _LATIN_RUN.finditer(sentence):
        pieces.append(_xml_text(sentence[start : run.start()]))
        pieces.append(f'<voice name="{latin_voice}">{_xml_text(run.group())}</voice>')
        start = run.end()
    pieces.append(_xml_text(sentence[start:]))
    return "".join(pieces)


def _xml_text(text: str) -> str:
    return escape(text, {"'": "&apos;", '"': "&quot;"})


class EspeakEngine:
    """The ``espeak`` engine: any espeak-ng voice, offline, about 100 languages.

    Safe to share between threads: every call runs its own child process.
    """

    name = "espeak"

    def __init__(
        self, executable: str = "espeak-ng", *, timeout_s: float = ESPEAK_TIMEOUT_S
    ) -> None:
        # Not looked up here: a service whose catalog never names espeak should start
        # even where espeak-ng is not installed.
        self._executable = executable
        self._timeout_s = timeout_s

    # Phrase by phrase, cached, like Piper: a process start costs about 10 ms of CPU, more
    # than a short phrase's speech, but after the first reminders only the greeting with
    # the patient's name is new, so a message costs one start and one short phrase instead
    # of a whole message (``bench/render_step.py``, Turkish: 45 -> 12 ms per message). A
    # phrase spoken alone keeps its mark's intonation, and the pieces joined end to end
    # last as long as the sentence spoken whole.
    sentence_cache = True

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with espeak-ng's ``voice`` and return a complete PCM WAV file.

        ``language`` is unused: an espeak-ng voice already fixes its language. The
        silence espeak-ng closes a sentence with (0.39 s) is left off: in one run the
        ``<break>`` between sentences replaces it, and phrase by phrase the Speaker puts
        that pause in itself, so joined sentences keep one run's pace. A comma's shorter
        silence stays: it is the pause inside the sentence.
        """
        stdout = self._run(text, voice, words_per_minute, ["--stdout"])
        return _complete_wav(stdout, closing_silence=not closes_sentence(text))

    def phonemes(self, text: str, voice: str, words_per_minute: int = 150) -> str:
        """The phonemes espeak-ng speaks for ``text``, in its ASCII mnemonics (``-x``).

        Runs exactly the input path ``synthesize`` runs, so it shows what a patient
        will hear: useful to check a pronunciation without listening to audio.
        """
        stdout = self._run(text, voice, words_per_minute, ["-q", "-x"])
        return stdout.decode("utf-8", errors="replace").strip()

    def _run(
        self,
        text: str,
        voice: str,
        words_per_minute: int,
        output: list[str],
    ) -> bytes:
        """Run espeak-ng on ``text``; map every way it can fail to a ``VoiceError``."""
        text = check_text(text)
        _check_voice_name(voice)
        if not ESPEAK_MIN_WORDS_PER_MINUTE <= words_per_minute <= ESPEAK_MAX_WORDS_PER_MINUTE:
            raise InvalidRate(
                f"espeak-ng speaks {ESPEAK_MIN_WORDS_PER_MINUTE} to "
                f"{ESPEAK_MAX_WORDS_PER_MINUTE} words per minute, not {words_per_minute}"
            )
        argv = [
            self._executable,
            "--stdin",  # read all of stdin, then speak (see module docstring)
            "-m",  # SSML, so escaped "&", "<" and quotes are spoken as written
            "-b",
            "1",  # the input is UTF-8; do not let espeak-ng guess
            "-v",
            voice,
            "-s",
            str(words_per_minute),
            *output,
        ]
        done = run_child(
            argv,
            ssml_for(text, voice).encode("utf-8"),
            timeout_s=self._timeout_s,
            program=f"espeak-ng (voice {voice!r})",
        )
        if done.returncode != 0:
            diagnostic = _diagnostic(done.stderr)
            if "voice" in diagnostic.lower():
                raise UnknownVoice(f"espeak-ng has no voice {voice!r}: {diagnostic}")
            raise SynthesisFailed(
                f"espeak-ng exited with status {done.returncode} using voice {voice!r}: "
                f"{diagnostic}"
            )
        return done.stdout


def _check_voice_name(voice: str) -> None:
    """Refuse a voice name espeak-ng would misread: as an option, or cut short."""
    if len(voice) > _MAX_VOICE_NAME_CHARS or not _VOICE_NAME.fullmatch(voice):
        raise UnknownVoice(f"{voice!r} is not an espeak-ng voice name")


def _diagnostic(stderr: bytes) -> str:
    """espeak-ng's stderr, keeping only lines known not to quote the input text."""
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    kept = [line for line in lines if _KNOWN_DIAGNOSTIC.match(line)]
    withheld = len(lines) - len(kept)
    if withheld:
        kept.append(f"[{withheld} other stderr line(s) withheld: they may quote the text]")
    return (" ".join(kept) or "no diagnostic on stderr")[:_MAX_DIAGNOSTIC_CHARS]


def _complete_wav(stdout: bytes, *, closing_silence: bool = True) -> bytes:
    """Rebuild espeak-ng's piped WAV with true sizes, after checking it holds sound;
    without ``closing_silence``, the silence it ends with is cut off.

    A header claiming two gigabytes of data makes strict readers (Python's ``wave``,
    some players) stop or misreport the duration, so the samples are re-wrapped.
    """
    if (
        len(stdout) < _WAV_HEADER_BYTES
        or stdout[0:4] != b"RIFF"
        or stdout[8:16] != b"WAVEfmt "
        or stdout[36:40] != b"data"
    ):
        raise SynthesisFailed(f"espeak-ng wrote no WAV audio ({len(stdout)} bytes on stdout)")
    format_tag, channels, frame_rate, _byte_rate, block_align, bits = struct.unpack(
        "<HHIIHH", stdout[20:36]
    )
    if format_tag != _PCM_FORMAT_TAG or bits % 8 or block_align != channels * bits // 8:
        raise SynthesisFailed(
            f"espeak-ng wrote an unexpected WAV format (tag {format_tag}, {bits} bits)"
        )
    frames = stdout[_WAV_HEADER_BYTES:]
    frames = frames[: len(frames) - len(frames) % block_align]
    if not frames.strip(b"\x00"):
        raise SynthesisFailed("espeak-ng produced only silence")
    if not closing_silence:  # espeak-ng's silence is exact zeros; keep whole samples
        frames = frames.rstrip(b"\x00")
        frames += b"\x00" * (-len(frames) % block_align)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(bits // 8)
        wav.setframerate(frame_rate)
        wav.writeframes(frames)
    return out.getvalue()
