"""The languages Tellwell must speak and write from day one."""

from __future__ import annotations

LAUNCH_LANGUAGES = (
    "en",
    "es",
    "zh",
    "yue",
    "vi",
    "ar",
    "ko",
    "ru",
    "fr",
    "ht",
    "pt",
    "pl",
    "hi",
    "ur",
    "fa",
    "de",
    "it",
    "bn",
    "ja",
    "tl",
    "so",
)
"""The languages a clinic needs at launch (issue 6): every one has templates; all but
Somali, which no engine here speaks, have a voice."""
