"""The child process that owns the one pyttsx3 engine (run by ``voices.pyttsx3_engine``).

Talks JSON lines on a private copy of stdout; the real stdout goes to /dev/null because
pyttsx3 prints on every save. Run only as ``python -m voices.pyttsx3_child``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# Long enough that pyttsx3's first-render loss would take it: the warm-up absorbs it.
_WARM_UP_TEXT = "This sentence warms the speech engine up before any real message. " * 3


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process

    import pyttsx3

    engine = pyttsx3.init()
    voices = [
        {"id": str(voice.id), "languages": [str(code) for code in voice.languages or []]}
        for voice in engine.getProperty("voices")
    ]
    with tempfile.TemporaryDirectory(prefix="tellwell-pyttsx3-") as tmp:
        _render(engine, _WARM_UP_TEXT, None, 150, Path(tmp) / "warm-up.wav")
    replies.write(json.dumps({"ready": True, "voices": voices}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _render(engine, request["text"], request["voice"], request["rate"], request["path"])
            replies.write(json.dumps({"ok": True}) + "\n")
        except Exception as err:  # reported to the parent by type only: no text leaks
            replies.write(json.dumps({"ok": False, "error": type(err).__name__}) + "\n")


# pyttsx3 loses renders at random after a property change (measured: the first render
# after a voice change writes a header and no samples); a lost render is run again.
_ATTEMPTS = 3
_WAV_HEADER_BYTES = 44


def _render(engine: Any, text: str, voice: str | None, rate: int, path: Path | str) -> None:
    """One file per runAndWait: two queued saves in one run drop the first file.

    Voice, then rate, set on every render (measured: a rate set without the voice being
    selected again does not take). Even so the rate is not always applied under load;
    the parent checks the duration and refuses audio at the wrong rate.
    """
    if voice is not None:
        engine.setProperty("voice", voice)
    engine.setProperty("rate", rate)
    for _ in range(_ATTEMPTS):
        engine.save_to_file(text, str(path))
        engine.runAndWait()
        if os.path.exists(path) and os.path.getsize(path) > _WAV_HEADER_BYTES:
            return


if __name__ == "__main__":
    main()
