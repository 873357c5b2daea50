"""Running a speech program as a child process, for the engines that are programs.

Why children and not bindings (see also ``voices.espeak``): a child can be killed when it
overruns, a crash in its C library cannot take the service down, and the text travels
on stdin, so it never shows in a process listing. Programs that can only write their
audio to a named file (``pico2wave``, ``RHVoice-test``) get one in a private temporary
folder under a fixed name, so no file name ever carries the text.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from voices.audio import read_wav
from voices.base import EncodingFailed, EngineUnavailable, SynthesisFailed, SynthesisTimeout

__all__ = ["OUTPUT_NAME", "run_child", "run_child_to_file"]

# The name the output file has inside its private folder; it says nothing of the text.
OUTPUT_NAME = "speech.wav"


def run_child(
    argv: list[str], stdin: bytes, *, timeout_s: float, program: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` with ``stdin``; map not-installed and overrunning to a ``VoiceError``.

    ``subprocess.run`` kills and reaps a child that overruns ``timeout_s`` before it
    raises, so a hung program never outlives the call. A non-zero exit is returned for
    the caller to read, since only the caller knows which of its diagnostics are safe.
    """
    try:
        return subprocess.run(
            argv, input=stdin, capture_output=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as err:
        raise EngineUnavailable(f"{program} is not installed ({argv[0]!r})") from err
    except subprocess.TimeoutExpired as err:
        raise SynthesisTimeout(f"{program} took longer than {timeout_s:g} s") from err
    except OSError as err:
        raise EngineUnavailable(f"{program} could not be started: {err.strerror}") from err


def run_child_to_file(
    argv_for: list[str], stdin: bytes, *, timeout_s: float, program: str
) -> bytes:
    """Run a program that writes its WAV to a file; return the file's bytes.

    ``argv_for`` holds ``{out}`` where the output path goes. A non-zero exit or a missing
    or empty file is ``SynthesisFailed``; the program's stderr is not quoted, because
    neither program promises that it never echoes the input.
    """
    with tempfile.TemporaryDirectory(prefix="tellwell-voice-") as folder:
        out = Path(folder) / OUTPUT_NAME
        argv = [str(out) if part == "{out}" else part for part in argv_for]
        done = run_child(argv, stdin, timeout_s=timeout_s, program=program)
        if done.returncode != 0:
            raise SynthesisFailed(
                f"{program} exited with status {done.returncode} "
                f"({len(done.stderr)} bytes on stderr, withheld: they may quote the text)"
            )
        try:
            data = out.read_bytes()
        except OSError as err:
            raise SynthesisFailed(f"{program} wrote no audio file") from err
    try:
        samples = read_wav(data).samples
    except EncodingFailed as err:
        raise SynthesisFailed(f"{program} wrote no usable WAV: {err}") from err
    if not np.any(samples):
        raise SynthesisFailed(f"{program} produced only silence")
    return data
