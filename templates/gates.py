"""The gates a clinic's wording passes before it is saved: the shipped text's own tests.

The shipped templates are held by tests (tests/templates): reading grade 6 or below where
the language has a formula and plain-language limits elsewhere, the voicemail privacy lint,
and the keypad menu in every call. A clinic's text meets the same bar, measured on the
same sample facts (``templates.samples``), plus what only free text can get wrong: every
slot known, and only the facts its kind carries. How long the message lasts needs a
speech engine, which this package does not have; the caller measures ``sample_message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from templates.errors import BadWording, TemplateError
from templates.locales import TEMPLATE_ROOT
from templates.privacy import voicemail_findings
from templates.readability import plain_language_findings, reading_grade
from templates.render import Message, render_message
from templates.samples import sample_facts
from templates.wording import KIND_FACTS, MENU_SLOT, SLOTS, wording_slots

READING_GRADE_MAX = 6.0
"""Plain language for patients: no harder than US school grade 6."""


@dataclass(frozen=True)
class GateReport:
    """What is wrong with a wording (empty: it passes) and the sample it was measured on."""

    problems: list[str]
    sample_message: Message | None
    """The wording rendered with sample facts, when it could be rendered at all."""


def check_wording(
    text: str, kind: str, language: str, variant: str, *, root: Path = TEMPLATE_ROOT
) -> GateReport:
    """Every gate but the spoken length; problems name slots and rules, never facts."""
    try:
        slots = wording_slots(text)
    except BadWording as err:
        return GateReport(err.problems, None)
    problems: list[str] = []
    facts_of_kind = KIND_FACTS[kind]
    for slot in dict.fromkeys(slots):
        fact = SLOTS[slot].fact
        if fact is not None and fact not in facts_of_kind:
            problems.append(f"{{{slot}}} cannot be said in a {kind} message: it has no {fact}")
    if variant == "call" and MENU_SLOT not in slots:
        problems.append("a call must say the keypad menu: add {menu}")
    if variant != "call" and MENU_SLOT in slots:
        problems.append("{menu} belongs in calls only: no keypad answers a voicemail or the app")
    if problems:
        return GateReport(problems, None)
    facts = sample_facts(kind, language)
    try:
        message = render_message(kind, language, variant, facts, root=root, wording=text)
    except TemplateError as err:
        return GateReport([f"it cannot be rendered with sample facts ({type(err).__name__})"], None)
    grade = reading_grade(message.text, language)
    if grade is not None and grade > READING_GRADE_MAX:
        problems.append(
            f"reading grade {grade:.1f} is above {READING_GRADE_MAX:.0f}: "
            "use shorter words and sentences"
        )
    plain = plain_language_findings(message.text, language)
    problems.extend(f"not plain enough: {finding}" for finding in plain)
    if variant == "voicemail":
        problems.extend(
            f"voicemail says too much: {finding}"
            for finding in voicemail_findings(message, facts, root=root)
        )
    return GateReport(problems, message)
