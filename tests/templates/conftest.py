"""Shared helpers for the templates tests: every message the package can render."""

from __future__ import annotations

from functools import cache

import pytest

from templates import KINDS, VARIANTS, Message, languages, render_message, sample_facts

ALL_MESSAGES = [
    (language, kind, variant) for language in languages() for kind in KINDS for variant in VARIANTS
]


@cache
def _sample_message(language: str, kind: str, variant: str) -> Message:
    """Rendered once per test process: three test functions read each message, and a
    ``Message`` cannot be changed by any of them."""
    return render_message(kind, language, variant, sample_facts(kind, language))


@pytest.fixture(params=ALL_MESSAGES, ids=lambda p: "-".join(p))
def rendered(request: pytest.FixtureRequest) -> Message:
    """Each (language, kind, variant) rendered with that language's sample facts."""
    return _sample_message(*request.param)
