"""What the free-text language check costs: the detector's first use, and each check.

The baseline, in the same process, is rendering the same message's text
(``render_message``, the work every reminder and preview does anyway): the check is
reported as a ratio of it. The first check of each script loads lingua's models for the
languages written in it, so the first use is timed per script, in a fresh process.

    .venv/bin/python bench/text_language.py [rounds]
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from templates import foreign_text, render_message, sample_facts

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
FIRST_BY_SCRIPT = [
    ("Latin", "es", "Second floor, suite 210. Bring your medicine list."),
    ("Arabic", "en", "أحضر قائمة أدويتك."),
    ("Cyrillic", "en", "Возьмите с собой список лекарств."),
    ("Han", "en", "请带上您的药物清单。"),
    ("Devanagari", "en", "अपनी दवाओं की सूची साथ लाएँ।"),
]
CASES = [
    ("es", "Second floor, suite 210", "Bring your medicine list."),
    ("es", "Segundo piso, consultorio 210", "Traiga su lista de medicinas."),
    ("en", "Second floor, suite 210", "Bring your medicine list."),
    ("zh", "二楼210室", "请带上您的药物清单。"),
    ("ar", "الطابق الثاني، الجناح 210", "لا تأكل بعد منتصف الليل."),
    ("ru", "Suite 210", "Возьмите с собой список лекарств."),
]


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    print("first check per script (loads that script's models):")
    for script, language, text in FIRST_BY_SCRIPT:
        started = time.perf_counter()
        foreign_text({"instructions": text}, language)
        print(f"  {script:<11} {time.perf_counter() - started:6.2f} s")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory after all five: {rss_mb:.0f} MB")
    print(f"\nper message, median of {ROUNDS} (location + instructions):")
    print(f"  {'lang':<5} {'render ms':>10} {'check ms':>9} {'check/render':>13}")
    for language, location, instructions in CASES:
        facts = replace(
            sample_facts("appointment_reminder", language),
            location=location,
            instructions=instructions,
        )
        fields = {"location": location, "instructions": instructions}
        render = _median_ms(
            partial(render_message, "appointment_reminder", language, "call", facts), ROUNDS
        )
        check = _median_ms(partial(foreign_text, fields, language), ROUNDS)
        print(f"  {language:<5} {render:10.2f} {check:9.2f} {check / render:12.2f}x")


if __name__ == "__main__":
    main()
