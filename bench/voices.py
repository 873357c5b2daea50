"""Voices benchmark: a 60-word reminder, spoken and encoded, against the floor.

For English and Spanish, each engine and format: the full path (``Speaker.speak`` on an
empty cache: synthesis, sentence handling, loudness, encoding, cache write) as a ratio to
the floor measured in the same run (the raw engine on the whole text plus the bare
encoder: soxr + mu-law for the phone, LAME for MP3). Then a fully cached repeat, and for
Piper a reminder whose static sentences are cached against rendering it whole.

Goals (issue 6): espeak full path within 1.3x of the floor; cached repeat under 5 ms;
Piper with static sentences cached at least 3x faster than whole.

    .venv/bin/python bench/voices.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voices import (  # noqa: E402
    AudioFormat,
    Catalog,
    Engine,
    EspeakEngine,
    PiperEngine,
    Pyttsx3Engine,
    Speaker,
)
from voices.audio import encode  # noqa: E402
from voices.piper_engine import BUILTIN_VOICE  # noqa: E402

# 60 words each; the first sentence is the only one that changes between patients.
REMINDERS = {
    "en": (
        "Hello {name}.",
        "This is Riverside Clinic calling with a reminder about your appointment. "
        "Your appointment is tomorrow, Tuesday, at ten thirty in the morning. "
        "Please arrive fifteen minutes early and bring your insurance card and "
        "medicines. "
        "To confirm, press one. To cancel, press two. To hear this message again, press "
        "three. Thank you, and we look forward to seeing you.",
    ),
    "es": (
        "Hola {name}.",
        "Le llamamos de la Clínica Riverside para recordarle su cita. "
        "Su cita es mañana, martes, a las diez y media de la mañana. "
        "Por favor llegue quince minutos antes y traiga su tarjeta del seguro y una lista "
        "de sus medicinas. "
        "Para confirmar, oprima uno. Para cancelar, oprima dos. Para escuchar este mensaje "
        "otra vez, oprima tres. Gracias.",
    ),
}
FORMATS = (AudioFormat.PHONE, AudioFormat.APP)


def reminder(language: str, name: str) -> str:
    greeting, body = REMINDERS[language]
    return f"{greeting.format(name=name)} {body}"


def median_s(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-pyttsx3", action="store_true")
    args = parser.parse_args()
    rounds = args.rounds
    catalog = Catalog.load()

    espeak = EspeakEngine()
    piper = PiperEngine()
    engines: dict[str, Engine] = {"espeak": espeak, "piper": piper}
    pyttsx3 = None if args.no_pyttsx3 else Pyttsx3Engine()
    if pyttsx3 is not None:
        engines["pyttsx3"] = pyttsx3
    voices = {
        ("espeak", "en"): "en-us",
        ("espeak", "es"): "es-419",
        ("piper", "en"): BUILTIN_VOICE,
        ("pyttsx3", "en"): "gmw/en-us",
        ("pyttsx3", "es"): "roa/es-419",
    }
    for language in REMINDERS:
        print(f"{language}: {len(reminder(language, 'Maria').split())} words")

    print(f"\nfull path vs floor (median of {rounds}; empty cache for each full-path run)")
    print(f"{'engine':8} {'lang':4} {'format':6} {'floor ms':>9} {'full ms':>9} {'ratio':>6}")
    cached_ms: list[float] = []
    run_numbers = itertools.count()
    with tempfile.TemporaryDirectory() as tmp:
        for (engine_name, language), voice in voices.items():
            engine = engines.get(engine_name)
            if engine is None:
                continue
            text = reminder(language, "Maria")
            # The catalog for this engine/voice alone, so Speaker takes this path.
            entry = catalog.get(language)
            only = Catalog(
                [replace(entry, engine=engine_name, voice=voice, fallback=None)],
                catalog.rates(),
            )
            for fmt in FORMATS:
                floor = median_s(
                    lambda e=engine, v=voice, t=text, lang=language, f=fmt: encode(
                        e.synthesize(t, lang, v, 150),
                        f,
                    ),
                    rounds,
                )

                def full(e=engine, n=engine_name, lang=language, f=fmt, t=text, c=only) -> object:
                    # A fresh, empty cache for every run.
                    cache = Path(tmp) / f"{n}-{lang}-{f.value}-{next(run_numbers)}"
                    return Speaker(cache, c, {n: e}).speak(t, lang, "normal", f)

                full_s = median_s(full, rounds)
                print(
                    f"{engine_name:8} {language:4} {fmt.value:6} {floor * 1000:9.1f} "
                    f"{full_s * 1000:9.1f} {full_s / floor:6.2f}x"
                )
                warm = Speaker(
                    Path(tmp) / f"warm-{engine_name}-{language}", only, {engine_name: engine}
                )
                warm.speak(text, language, "normal", fmt)
                cached_ms.append(
                    median_s(
                        lambda w=warm, t=text, lang=language, f=fmt: w.speak(t, lang, "normal", f),
                        50,
                    )
                    * 1000
                )

        print(
            f"\nfully cached repeat: median {statistics.median(cached_ms):.2f} ms, "
            f"worst {max(cached_ms):.2f} ms (goal < 5 ms)"
        )

        # Piper: the same reminder for a new patient, static sentences already cached.
        only_piper = Catalog([replace(catalog.get("en"), fallback=None)], catalog.rates())
        names = iter(f"Patient{i}" for i in range(10_000))
        sentence_cache = Speaker(Path(tmp) / "piper-static", only_piper, {"piper": piper})
        sentence_cache.speak(reminder("en", "Warmup"), "en", "normal", AudioFormat.PHONE)
        static_cached = median_s(
            lambda: sentence_cache.speak(
                reminder("en", next(names)), "en", "normal", AudioFormat.PHONE
            ),
            rounds,
        )
        fresh = iter(range(10_000))
        whole = median_s(
            lambda: Speaker(
                Path(tmp) / f"piper-whole-{next(fresh)}", only_piper, {"piper": piper}
            ).speak(reminder("en", next(names)), "en", "normal", AudioFormat.PHONE),
            rounds,
        )
        print(
            f"\npiper en phone: whole {whole * 1000:.0f} ms, static sentences cached "
            f"{static_cached * 1000:.0f} ms: {whole / static_cached:.1f}x faster (goal >= 3x)"
        )
    if pyttsx3 is not None:
        pyttsx3.close()


if __name__ == "__main__":
    main()
