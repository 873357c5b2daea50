"""The one place a configuration becomes engines: which are built, and with what limits.

``voices`` reads no settings itself; the caller (the worker, the CLI) passes the choices
in. espeak-ng is always there; piper is on by default (English speaks with it); pico and
rhvoice are on by default where ``make voices`` installed their programs (the catalog
falls back to espeak-ng where it did not); gtts only when explicitly enabled, because it
sends the text to Google; http only for the languages given a server, because it sends
the text there; pyttsx3 when asked for, for machines whose system voices are better than
espeak-ng.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from voices.base import Engine
from voices.catalog import Catalog
from voices.espeak import EspeakEngine
from voices.gtts_engine import GTTS_DEFAULT_TIMEOUT_S, GttsEngine
from voices.http_engine import HttpEngine, HttpVoice
from voices.pico_engine import PicoEngine
from voices.piper_engine import PIPER_DEFAULT_THREADS, PiperEngine
from voices.pyttsx3_engine import Pyttsx3Engine
from voices.rhvoice_engine import RhvoiceEngine
from voices.speaker import Speaker

__all__ = ["configured_speaker"]


def configured_speaker(
    cache_dir: Path,
    *,
    piper_enabled: bool = True,
    piper_voices_dir: Path | None = None,
    piper_threads: int = PIPER_DEFAULT_THREADS,
    gtts_enabled: bool = False,
    gtts_timeout_s: float = GTTS_DEFAULT_TIMEOUT_S,
    pyttsx3_enabled: bool = False,
    http_voices: Mapping[str, HttpVoice] | None = None,
    pico_enabled: bool = True,
    rhvoice_enabled: bool = True,
    cache_secret: bytes = b"",
    catalog: Catalog | None = None,
) -> Speaker:
    """A Speaker with the engines this configuration allows, and the catalog they extend.

    A Piper voice dropped into ``piper_voices_dir`` leads its language, with the
    catalog's own voice behind it as the fallback; so does a language's HTTP server
    (``http_voices``), ahead of any Piper voice. Pico and RHVoice are optional
    programs: given only where installed, so a language they lead is spoken by its
    espeak-ng fallback elsewhere (and the preview names the engine that spoke).
    """
    catalog = catalog if catalog is not None else Catalog.load()
    engines: dict[str, Engine] = {EspeakEngine.name: EspeakEngine()}
    if piper_enabled:
        piper = PiperEngine(piper_voices_dir, threads=piper_threads)
        engines[piper.name] = piper
        for voice in piper.dropped_voices():
            catalog = catalog.with_leading(voice)
    if gtts_enabled:
        engines[GttsEngine.name] = GttsEngine(timeout_s=gtts_timeout_s)
    if pyttsx3_enabled:
        engines[Pyttsx3Engine.name] = Pyttsx3Engine()
    if pico_enabled and shutil.which(PicoEngine.program):
        engines[PicoEngine.name] = PicoEngine()
    if rhvoice_enabled and shutil.which(RhvoiceEngine.program):
        engines[RhvoiceEngine.name] = RhvoiceEngine()
    if http_voices:
        http = HttpEngine(http_voices)
        engines[http.name] = http
        for voice in http.catalog_voices(catalog):
            catalog = catalog.with_leading(voice)
    return Speaker(cache_dir, catalog, engines, cache_secret=cache_secret)
