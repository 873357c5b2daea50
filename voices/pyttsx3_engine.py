"""pyttsx3, the operating system's own voices (SAPI5, NSSpeech, espeak-ng), contained.

For machines whose system voices are better than espeak-ng. pyttsx3's edges, all
measured on this machine, and how each is contained here:

- a second engine in one process hangs forever, two threads without a lock crash the
  process, and forking after initialisation hangs the children: the engine lives in its
  own spawned child process (``voices.pyttsx3_child``, never forked from a process that
  holds an engine), one engine per child, and every request goes through one lock;
- a hang or crash: the caller times each request out, kills the child's whole process
  group, and starts a fresh child on the next request;
- the first long render after ``init()`` is silently lost: the child renders a warm-up
  sentence before it reports ready (and, measured here too, the first render after a
  voice change can come out empty: the child renders it again, up to three times);
- two ``save_to_file`` calls in one ``runAndWait`` drop the first file, and an empty
  ``runAndWait`` re-writes the previous file: one save per run, each to a new path, and
  every output verified (exists, non-empty, readable WAV, plausible duration);
- an unknown voice silently speaks English: a voice is refused unless the system lists
  it for the requested language;
- the rate setting is not reliably applied: it is set before every render, and the
  output's duration is checked against the words and rate asked for;
- every save prints to stdout: the child keeps its replies on a private descriptor and
  sends stdout to /dev/null.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from voices.audio import read_wav
from voices.base import (
    EngineUnavailable,
    SynthesisFailed,
    SynthesisTimeout,
    UnknownVoice,
    VoiceError,
    check_text,
)

__all__ = ["PYTTSX3_START_TIMEOUT_S", "PYTTSX3_TIMEOUT_S", "Pyttsx3Engine"]

# A render of the longest accepted text takes a few seconds; past this the child is hung.
PYTTSX3_TIMEOUT_S = 30.0

# Start-up: importing pyttsx3, init() and the warm-up render.
PYTTSX3_START_TIMEOUT_S = 30.0

# A rendered file is plausible when it lasts between these fractions of the time the
# words take at the asked rate: shorter is a lost or truncated render, longer a stale
# or wrong one. The lower bound also catches a render at a faster rate than asked (the
# rate setting that did not take); the upper is wide, as pauses vary by voice.
_MIN_DURATION_FRACTION = 0.7
_MAX_DURATION_FRACTION = 3.0
# Short texts get this much slack on top (a one-word render is mostly lead-in silence).
_DURATION_SLACK_S = 1.5

# A render whose output fails verification (lost, stale, wrong rate) is asked for again
# once; a timeout is not retried, as the caller's time is already spent.
_RENDER_ATTEMPTS = 2

# Language codes a system voice may list for a catalog language besides the code itself.
_LANGUAGE_ALIASES = {"zh": {"cmn", "zh"}, "yue": {"yue"}, "fa": {"fa", "fa-latn"}}


class Pyttsx3Engine:
    """The ``pyttsx3`` engine; ``voice`` is a system voice id such as ``"roa/es-419"``."""

    name = "pyttsx3"
    sentence_cache = False

    def __init__(
        self,
        *,
        timeout_s: float = PYTTSX3_TIMEOUT_S,
        start_timeout_s: float = PYTTSX3_START_TIMEOUT_S,
    ) -> None:
        self._timeout_s = timeout_s
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._voices: dict[str, list[str]] = {}
        self._buffer = b""

    @property
    def child_pid(self) -> int | None:
        """The running child's process id (for operators, and tests that provoke faults)."""
        return self._child.pid if self._child and self._child.poll() is None else None

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with system ``voice``, which must belong to ``language``."""
        text = check_text(text)
        with self._lock:
            self._ensure_child()
            languages = self._voices.get(voice)
            if languages is None:
                raise UnknownVoice(f"the system has no voice {voice!r}")
            if not _belongs(languages, language):
                raise UnknownVoice(
                    f"system voice {voice!r} speaks {', '.join(languages) or 'no language'}, "
                    f"not {language!r}"
                )
            for attempt in range(_RENDER_ATTEMPTS):
                try:
                    return self._render(text, voice, words_per_minute)
                except SynthesisFailed as err:
                    if isinstance(err, SynthesisTimeout) or attempt == _RENDER_ATTEMPTS - 1:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

    def _render(self, text: str, voice: str, words_per_minute: int) -> bytes:
        """One request to the child, into a fresh file, verified."""
        self._ensure_child()
        with tempfile.TemporaryDirectory(prefix="tellwell-pyttsx3-") as tmp:
            path = Path(tmp) / "speech.wav"
            request = {"text": text, "voice": voice, "rate": words_per_minute}
            reply = self._ask({**request, "path": str(path)}, self._timeout_s)
            if not reply.get("ok"):
                raise SynthesisFailed(f"pyttsx3 failed: {reply.get('error', 'unknown')}")
            return _verified(path, text, words_per_minute)

    def close(self) -> None:
        """Stop the child (it is also stopped when this process exits)."""
        with self._lock:
            self._kill()

    def _ensure_child(self) -> None:
        """Start a child if none is running (first use, or after a hang or crash)."""
        if self._child is not None and self._child.poll() is None:
            return
        self._kill()
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "voices.pyttsx3_child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed whole on a hang
                cwd=Path(__file__).resolve().parent.parent,
            )
        except OSError as err:
            raise EngineUnavailable(f"cannot start the pyttsx3 child: {err.strerror}") from err
        ready = self._read_reply(self._start_timeout_s)
        self._voices = {entry["id"]: entry["languages"] for entry in ready.get("voices", [])}
        if not ready.get("ready"):
            self._kill()
            raise EngineUnavailable("the pyttsx3 child did not start")

    def _ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        child = self._child
        assert child is not None and child.stdin is not None
        try:
            child.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            child.stdin.flush()
        except OSError as err:
            self._kill()
            raise SynthesisFailed("the pyttsx3 child went away; it restarts next time") from err
        return self._read_reply(timeout_s)

    def _read_reply(self, timeout_s: float) -> dict[str, Any]:
        """One JSON line from the child within ``timeout_s``, or kill it and raise."""
        child = self._child
        assert child is not None and child.stdout is not None
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable = select.select([child.stdout], [], [], max(remaining, 0))[0]
            if not readable:
                self._kill()
                raise SynthesisTimeout(
                    f"pyttsx3 gave no answer within {timeout_s:g} s; its process was killed"
                )
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                self._kill()
                raise SynthesisFailed("the pyttsx3 child died; it restarts next time")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError as err:
            self._kill()
            raise SynthesisFailed("the pyttsx3 child sent something unreadable") from err
        return reply

    def _kill(self) -> None:
        """Kill the child's whole process group (espeak-ng helpers included) and reap it."""
        child, self._child, self._buffer = self._child, None, b""
        if child is None:
            return
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def _belongs(voice_languages: list[str], language: str) -> bool:
    """Whether a system voice listed for ``voice_languages`` speaks catalog ``language``."""
    wanted = _LANGUAGE_ALIASES.get(language, {language})
    primary = {code.lower().replace("_", "-").split("-")[0] for code in voice_languages}
    return bool(primary & {code.split("-")[0] for code in wanted})


def _verified(path: Path, text: str, words_per_minute: int) -> bytes:
    """The rendered file, if it exists, holds a WAV and lasts about what the words take."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SynthesisFailed("pyttsx3 wrote no file") from err
    try:
        duration_s = read_wav(data).duration_s
    except VoiceError as err:
        raise SynthesisFailed("pyttsx3 wrote no usable WAV") from err
    expected_s = len(text.split()) * 60 / words_per_minute
    low = expected_s * _MIN_DURATION_FRACTION
    high = expected_s * _MAX_DURATION_FRACTION + _DURATION_SLACK_S
    if not low <= duration_s <= high:
        raise SynthesisFailed(
            f"pyttsx3 wrote {duration_s:.1f} s of audio where {expected_s:.1f} s was expected"
        )
    return data
