"""HTTP engine benchmark: its overhead over a bare call, and how long a hung server costs.

Against a real local speech server (devtools/tts_server.py, espeak-ng behind HTTP):

1. Overhead: the same texts spoken through ``HttpEngine.synthesize`` and through a bare
   ``httpx.Client.post`` to the same server (same JSON body), interleaved, median per
   call; the ratio engine/direct and the difference in milliseconds (the thread hand-off,
   the breaker, the WAV check). Once with the server speaking every request, once with
   it answering repeats from memory, where the engine's own cost is not lost in espeak-ng's.
2. Fallback: ``Speaker.speak`` (phone format) when the server hangs, against the same
   render by espeak-ng alone; the extra is the engine's time bound. Then with the
   breaker open, when the server is skipped at once.

    .venv/bin/python bench/http_engine.py [--rounds 5] [--bound 1.0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from devtools.tts_server import HANG, TtsServer  # noqa: E402
from voices import AudioFormat, EspeakEngine, HttpEngine, HttpVoice, Speaker  # noqa: E402
from voices.catalog import Catalog  # noqa: E402

TEXTS = [
    "Hello, this is Riverside Clinic calling with a reminder about your appointment.",
    "Your appointment is tomorrow, Tuesday, at ten thirty in the morning.",
    "Please arrive fifteen minutes early and bring your insurance card.",
    "To confirm, press one. To cancel, press two.",
    "To hear this message again, press three. Thank you.",
    "Your test results are ready. Please call the clinic to talk with your nurse.",
]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def overhead(server: TtsServer, rounds: int, what: str) -> None:
    url = f"{server.url}/v1/audio/speech"
    engine = HttpEngine({"en": HttpVoice(url=url, voice="en-us", model="espeak-ng")})
    client = httpx.Client()

    def direct(text: str) -> bytes:
        body = {
            "model": "espeak-ng",
            "input": text,
            "voice": "en-us",
            "response_format": "wav",
            "speed": 1.0,
        }
        answer = client.post(url, json=body, timeout=10.0)
        answer.raise_for_status()
        return answer.content

    for text in TEXTS[:2]:  # warm both paths (connections, espeak-ng's data)
        direct(text)
        engine.synthesize(text, "en", "en-us", 150)
    via_engine: list[float] = []
    via_httpx: list[float] = []
    for round_ in range(rounds):
        for index, text in enumerate(TEXTS):
            pair = [
                (via_engine, lambda text=text: engine.synthesize(text, "en", "en-us", 150)),
                (via_httpx, lambda text=text: direct(text)),
            ]
            if (round_ + index) % 2:
                pair.reverse()
            for into, call in pair:
                into.append(timed(call))
    engine_ms, direct_ms = median_ms(via_engine), median_ms(via_httpx)
    print(f"overhead, {len(TEXTS)} texts x {rounds} rounds, median per call ({what}):")
    print(f"  direct httpx POST        {direct_ms:7.1f} ms")
    print(f"  HttpEngine.synthesize    {engine_ms:7.1f} ms")
    print(
        f"  ratio engine/direct      {engine_ms / direct_ms:7.3f}x"
        f"   (+{engine_ms - direct_ms:.2f} ms per call)"
    )
    engine.close()
    client.close()


def fallback(server: TtsServer, bound_s: float, rounds: int) -> None:
    url = f"{server.url}/v1/audio/speech"
    catalog = Catalog.load()
    http = HttpEngine(
        {"en": HttpVoice(url=url, voice="en-us", timeout_s=bound_s, breaker_failures=rounds + 1)}
    )
    for voice in http.catalog_voices(catalog):
        catalog = catalog.with_leading(voice)
    espeak = EspeakEngine()
    hung: list[float] = []
    skipped: list[float] = []
    alone: dict[str, list[float]] = {"hung": [], "skipped": []}
    with tempfile.TemporaryDirectory() as folder:
        with_http = Speaker(Path(folder) / "a", catalog, {"http": http, "espeak": espeak})
        offline = Speaker(Path(folder) / "b", catalog, {"espeak": espeak})

        def phone(speaker: Speaker, text: str) -> float:
            return timed(lambda: speaker.speak(text, "en", "normal", AudioFormat.PHONE))

        for round_ in range(rounds):
            text = f"{TEXTS[0]} {TEXTS[1]} ({round_})"
            server.then(HANG)
            hung.append(phone(with_http, text))
            alone["hung"].append(phone(offline, text))
        # One more failure opens the breaker; from then on the server is not asked.
        server.then(HANG)
        with_http.speak(f"{TEXTS[2]} (open)", "en", "normal", AudioFormat.PHONE)
        assert http.breaker("en").state == "open"
        for round_ in range(rounds):
            text = f"{TEXTS[2]} {TEXTS[3]} ({round_})"
            pair = [(skipped, with_http), (alone["skipped"], offline)]
            for into, speaker in pair if round_ % 2 else reversed(pair):
                into.append(phone(speaker, text))
    http.close()
    hung_ms, alone_ms = median_ms(hung), median_ms(alone["hung"])
    skipped_ms, alone_skipped_ms = median_ms(skipped), median_ms(alone["skipped"])
    print(f"fallback when the server hangs (bound {bound_s:g} s), {rounds} renders, median:")
    print(f"  espeak-ng alone          {alone_ms:7.1f} ms")
    print(
        f"  hung server, then espeak {hung_ms:7.1f} ms"
        f"   (bound + espeak + {hung_ms - alone_ms - bound_s * 1000:.1f} ms)"
    )
    print(f"breaker open, {rounds} renders, median:")
    print(f"  espeak-ng alone          {alone_skipped_ms:7.1f} ms")
    print(
        f"  skipped http, espeak    {skipped_ms:7.1f} ms"
        f"   (ratio {skipped_ms / alone_skipped_ms:.3f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bound", type=float, default=1.0, help="the engine's time bound, s")
    args = parser.parse_args()
    logging.getLogger("voices").setLevel(logging.ERROR)  # each fallback warns; expected here
    server = TtsServer().start()
    memo = TtsServer(memo=True).start()
    try:
        overhead(server, args.rounds, "the server speaks each request with espeak-ng")
        overhead(memo, args.rounds, "the server answers repeats from memory")
        fallback(server, args.bound, args.rounds)
    finally:
        server.stop()
        memo.stop()


if __name__ == "__main__":
    main()
