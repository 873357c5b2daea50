"""Message figures: reading grade and slow-call length, per language and kind.

For every language the templates are written in and every kind, it prints the reading grade
of the ``call`` text (where a formula exists: English Flesch-Kincaid, Spanish Crawford),
whether the text keeps to the plain-language limits, and, for each language the running
configuration can speak, the length of the ``call`` audio at the slow rate beside the
60-second cap. Audio goes to a temporary cache, so every figure is freshly spoken.

    .venv/bin/python bench/messages.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from templates import (
    KINDS,
    languages,
    plain_language_findings,
    reading_grade,
    render_message,
    sample_facts,
)
from voices import AudioFormat, Speaker
from workers.rendering import Renderer

CALL_SECONDS_MAX = 60.0
SLOW = "slow"
SHORT = {
    "appointment_reminder": "reminder",
    "result_ready": "result",
    "appointment_changed": "changed",
    "appointment_cancelled": "cancelled",
    "follow_up": "follow-up",
}


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        renderer = Renderer(Speaker(Path(cache)))
        spoken = {language.voice.code for language in renderer.languages()}
        header = ["lang"]
        for kind in KINDS:
            header += [f"{SHORT[kind]} grade", f"{SHORT[kind]} slow s"]
        rows = [header]
        longest = 0.0
        over_limits = []
        for language in languages():
            row = [language]
            for kind in KINDS:
                message = render_message(kind, language, "call", sample_facts(kind, language))
                grade = reading_grade(message.text, language)
                if plain_language_findings(message.text, language):
                    over_limits.append(f"{language}/{kind}")
                seconds = "-"
                if language in spoken:
                    audio = renderer.speaker.speak(
                        message.spoken, language, SLOW, AudioFormat.PHONE
                    )
                    longest = max(longest, audio.duration_s)
                    seconds = f"{audio.duration_s:.1f}"
                row += ["-" if grade is None else f"{grade:.1f}", seconds]
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    print()
    print("grade: call text, '-' where no formula fits the language (limits checked instead)")
    print(
        f"slow s: call audio at the slow rate, '-' where no voice is configured; spoken: "
        f"{', '.join(sorted(spoken))}"
    )
    print(
        f"longest slow call: {longest:.1f} s = {longest / CALL_SECONDS_MAX:.0%} of the "
        f"{CALL_SECONDS_MAX:.0f} s cap"
    )
    print(f"call texts over the plain-language limits: {', '.join(over_limits) or 'none'}")


if __name__ == "__main__":
    main()
