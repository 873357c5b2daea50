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

OFFLINE_WAVE_2 = (
    "uk",
    "el",
    "tr",
    "nl",
    "ro",
    "sq",
    "hr",
    "cs",
    "sk",
    "hu",
    "ka",
    "hy",
    "pa",
    "gu",
    "ne",
    "mr",
    "ta",
    "te",
    "ml",
    "ms",
    "id",
)
"""The languages added for issue 15 (forty offline), each spoken by an espeak-ng voice that
reads its own script; their wording is machine-drafted and unreviewed."""

LANGUAGES = LAUNCH_LANGUAGES + OFFLINE_WAVE_2
"""Every language with templates."""
