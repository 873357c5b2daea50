"""A clinic's own wording: plain text with named slots, never template code.

A clinic may replace the words of any kind, language and variant with its own, written as
text with slots in braces::

    Hello, {patient_name}. This is {clinic_name}.
    Your visit is on {day}, at {time}. You will see {provider}.
    {menu}

The text is parsed with ``string.Formatter``'s grammar and only bare slot names are allowed:
no attribute or index (``{patient_name.__class__}``), no format spec, no conversion; an
unknown slot is an error (``BadWording``). The parsed text is compiled into Jinja source in
which the clinic's literal text is never source: each piece is passed in as a value
(``{{ _wording[3] }}``), and each slot becomes the same expression the shipped templates use
(``appointment_start | date``, ``clinic_phone | phone``...), so the eye and the ear get the
same forms, in the same immutable sandbox (``templates.render``). ``{menu}`` is the
language's keypad menu, the shipped ``_menu.j2``.

Optional facts (provider, location, instructions, who ordered the tests, the previous
time): a sentence (cut at a full stop or a line break) that names one is left out when the
fact is absent, as the shipped templates do.

``shipped_wording_hash`` names the shipped wording of a language by content, so a review of
it stays attached to exactly the text that was read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Formatter

from templates.errors import BadWording
from templates.locales import TEMPLATE_ROOT

MENU_SLOT = "menu"
MENU_TEMPLATE_VAR = "_menu_template"
LITERALS_VAR = "_wording"


@dataclass(frozen=True)
class Slot:
    """A name a clinic may write in braces: the fact it says and how the templates say it."""

    fact: str | None
    expression: str


SLOTS: dict[str, Slot] = {
    "patient_name": Slot("patient_name", "patient_name"),
    "first_name": Slot("patient_name", "first_name"),
    "clinic_name": Slot("clinic_name", "clinic_name"),
    "clinic_phone": Slot("clinic_phone", "clinic_phone | phone"),
    "day": Slot("appointment_start", "appointment_start | date"),
    "time": Slot("appointment_start", "appointment_start | time"),
    "previous_day": Slot("previous_start", "previous_start | date"),
    "previous_time": Slot("previous_start", "previous_start | time"),
    "provider": Slot("provider", "provider | person"),
    "location": Slot("location", 'location | trim(".")'),
    "instructions": Slot("instructions", 'instructions | trim(".")'),
    "ordered_by": Slot("ordered_by", "ordered_by | person"),
    MENU_SLOT: Slot(None, f"{{% include {MENU_TEMPLATE_VAR} %}}"),
}
"""Every slot; the expression is Jinja source written here, never by a clinic."""

OPTIONAL_FACTS = frozenset({"provider", "location", "instructions", "ordered_by", "previous_start"})
"""Facts a message may lack: a sentence naming one is said only when it is given."""

_COMMON_FACTS = frozenset({"patient_name", "clinic_name", "clinic_phone"})
KIND_FACTS: dict[str, frozenset[str]] = {
    "appointment_reminder": _COMMON_FACTS
    | {"appointment_start", "provider", "location", "instructions"},
    "appointment_changed": _COMMON_FACTS
    | {"appointment_start", "previous_start", "provider", "location", "instructions"},
    "appointment_cancelled": _COMMON_FACTS | {"appointment_start", "provider"},
    "result_ready": _COMMON_FACTS | {"ordered_by"},
    "follow_up": _COMMON_FACTS,
}
"""The facts each kind carries (as ``templates.samples`` and the API's kinds say)."""


def slots_for(kind: str, variant: str) -> list[str]:
    """The slots a wording of ``kind``/``variant`` may say: its kind's facts, and the keypad
    menu in calls only (as ``templates.gates`` requires)."""
    facts = KIND_FACTS[kind]
    return [
        name
        for name, slot in SLOTS.items()
        if (slot.fact in facts) or (slot.fact is None and variant == "call")
    ]


_SENTENCE_BREAK = re.compile(r"((?<=[.!?。！？।۔؟։])[ \t]+|(?<=[。！？])|[ \t]*\n\s*)")


def wording_slots(text: str) -> list[str]:
    """The slots ``text`` names, in order; ``BadWording`` lists everything wrong with it."""
    return [slot for _, slot in _parse(text) if slot is not None]


def _parse(text: str) -> list[tuple[str, str | None]]:
    """(literal text, slot or None) pairs; literal braces are written ``{{`` and ``}}``."""
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as err:
        raise BadWording(
            [f"the braces do not pair up ({err}); write {{{{ or }}}} for a brace itself"]
        ) from err
    problems: list[str] = []
    pairs: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        pairs.append((literal, name))
        if name is None:
            continue
        if name == "":
            problems.append("{} has no slot name")
        elif re.search(r"[.\[\]]", name) or not name.isidentifier():
            problems.append(f"{{{name}}}: only bare slot names are allowed, such as {{day}}")
        elif name not in SLOTS:
            problems.append(f"{{{name}}} is not a known slot; known: {', '.join(SLOTS)}")
        if spec:
            problems.append(f"{{{name}:{spec}}}: a slot takes no format")
        if conversion:
            problems.append(f"{{{name}!{conversion}}}: a slot takes no conversion")
    if problems:
        raise BadWording(problems)
    return pairs


@dataclass(frozen=True)
class CompiledWording:
    """Jinja source for a clinic's text, and the literal pieces it reads as values."""

    source: str
    literals: tuple[str, ...]


@lru_cache(maxsize=256)
def compile_wording(text: str) -> CompiledWording:
    """``text`` as Jinja source in which only slot expressions are code (see the module doc).

    Raises ``BadWording``.
    """
    literals: list[str] = []

    def literal(piece: str) -> str:
        literals.append(piece)
        return f"{{{{ {LITERALS_VAR}[{len(literals) - 1}] }}}}"

    # Cut the text into sentences; separators stay outside them, so a sentence left out
    # leaves its neighbours apart.
    sentences: list[list[tuple[str, str | None]]] = [[]]
    separators: list[str] = []
    for piece, slot in _parse(text):
        parts = _SENTENCE_BREAK.split(piece)
        for index, part in enumerate(parts):
            if index % 2 == 1:
                separators.append(part)
                sentences.append([])
            elif part:
                sentences[-1].append((part, None))
        if slot is not None:
            sentences[-1].append(("", slot))
    source: list[str] = []
    for index, sentence in enumerate(sentences):
        body = "".join(
            literal(piece) if slot is None else _slot_source(slot) for piece, slot in sentence
        )
        needs = sorted(
            {
                fact
                for _, slot in sentence
                if slot is not None and (fact := SLOTS[slot].fact) in OPTIONAL_FACTS
            }
        )
        if needs:
            body = f"{{% if {' and '.join(f'{n} is defined' for n in needs)} %}}{body}{{% endif %}}"
        source.append(body)
        if index < len(separators):
            source.append(literal(separators[index]))
    return CompiledWording(source="".join(source), literals=tuple(literals))


def _slot_source(slot: str) -> str:
    expression = SLOTS[slot].expression
    return expression if slot == MENU_SLOT else f"{{{{ {expression} }}}}"


def menu_template(language: str) -> str:
    """The loader name of the language's keypad menu, included by ``{menu}``."""
    return f"{language}/_menu.j2"


@lru_cache(maxsize=64)
def shipped_wording_hash(language: str, root: Path = TEMPLATE_ROOT) -> str:
    """SHA-256 of the language's shipped text: its template files and ``language.json``.

    Files are read once per process, as the renderer reads them (they do not change while
    it runs); a new release with changed words gets a new hash, so it needs a new review.
    """
    digest = hashlib.sha256()
    folder = root / language
    for path in [*sorted(folder.glob("*.j2")), folder / "language.json"]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
