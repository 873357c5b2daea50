"""Render one message from its template: the transcript and the words the engine speaks.

Each message is one file, ``templates/<language>/<kind>.<variant>.j2``; a part shared by
several variants of a kind lives beside them in a file named with a leading "_" (the visit's
facts in ``_appointment.j2``) and is pulled in with ``{% include %}``. The same file is
rendered twice: once for the eye (``text``: "Dr. Chen", "(312) 555-0100") and once for the
ear (``spoken``: "Doctor Chen", "3 1 2, 5 5 5, 0 1 0 0"). Templates never format a fact
themselves; they pass it through a filter that reads ``for_ear``:

    date, time   the appointment day and clock time in the patient's time zone; the day
                 with its year when it is far from the day the message is rendered on
                 (``today``, see ``templates.speech.says_year``)
    local        the datetime in the patient's time zone (for grammar: "a la 1", "a las 2")
    phone        display form for the eye, digit by digit for the ear
    key          a keypad key: "#" for the eye, the local word ("pound") for the ear
    person       a titled name; ``person(article=true)`` adds "el"/"la" where the language does
    sentence     free text closed with a full stop, so the engine pauses after it

Besides the facts, a template sees ``kind`` and ``keypad`` (KEYPAD[kind]): each language's
``_menu.j2`` loops over ``keypad``, so the menu a patient hears is the one the phone acts on;
with ``offer_repeat_twice`` (the patient's accessibility profile) it ends by offering the
repeat key once more. ``repeated`` makes a message say itself twice, the language's own
"Here is the message again." between (the keypad reply ``repeat``).
The spoken text then goes through the language's pronunciation lexicon (``templates.lexicon``),
with a clinic's own entries layered over it when the caller passes them.

A clinic's own wording (``templates.wording``: plain text with named slots) stands in for
the file when given; it is compiled to source in which only slot expressions are code and
rendered in the same sandbox, with the same filters, as the files.

Templates run in Jinja's immutable sandbox with ``StrictUndefined``. Facts that are None or
blank are left out of the context, so a template that says ``{{ provider }}`` without
``{% if provider is defined %}`` declares that fact required, and rendering without it
raises ``MissingFact("provider")``. As the API says, only the patient and clinic facts and
``appointment_start`` are required; a sentence that needs an optional fact (provider,
location, instructions, ordered_by) is left out when it is absent. Fact values are data,
never template source: a value such as ``{{ 7*7 }}`` is said literally.

Voicemail (HIPAA minimum necessary): whoever plays the tape may not be the patient, so a
voicemail says the clinic, the patient's first name only (so the household knows whom to
tell, without confirming who is a patient by full name), the appointment day and time if
any, and the call-back number twice. Never the provider, place, instructions, a test or a
result; a result_ready voicemail does not even say that results exist. ``voicemail_findings``
in ``templates.privacy`` checks this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    pass_context,
)
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from templates.errors import BrokenTemplate, InvalidFact, MissingFact, UnknownTemplate
from templates.lexicon import Entry, layered, load_lexicon
from templates.locales import TEMPLATE_ROOT, LanguageProfile, language_codes, load_profile
from templates.speech import (
    display_phone,
    local_moment,
    patient_zone,
    spoken_date,
    spoken_person,
    spoken_phone,
    spoken_time,
    time_as_numbers,
)
from templates.wording import LITERALS_VAR, MENU_TEMPLATE_VAR, compile_wording, menu_template

KINDS: tuple[str, ...] = (
    "appointment_reminder",
    "result_ready",
    "appointment_changed",
    "appointment_cancelled",
    "follow_up",
)
VARIANTS: tuple[str, ...] = ("call", "voicemail", "app")

KEYPAD: dict[str, dict[str, str]] = {
    "appointment_reminder": {"1": "confirm", "2": "cancel", "9": "repeat", "0": "clinic"},
    "appointment_changed": {"1": "confirm", "2": "cancel", "9": "repeat", "0": "clinic"},
    "appointment_cancelled": {"1": "confirm", "9": "repeat", "0": "clinic"},
    "result_ready": {"1": "confirm", "9": "repeat", "0": "clinic"},
    "follow_up": {"9": "repeat", "0": "clinic"},
}
"""What each key does on a live call, per kind, in the order the menu offers them.

The one source of truth: each language's ``_menu.j2`` says exactly these keys (it loops
over them), and the phone channel acts on them. ``confirm`` on result_ready and
appointment_cancelled means "I got this message": there is nothing left to cancel.
``clinic`` connects the patient to the clinic's call-back number. A ``follow_up`` call's
answer keys are its question's (FOLLOW_UP_ANSWERS), said by the message before the menu.
"""

FOLLOW_UP_ANSWERS: dict[str, dict[str, str]] = {
    "visit_rating": {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5"},
    "resolved": {"1": "yes", "2": "no"},
}
"""Per follow-up question, key -> answer. The one table of both what a ``follow_up`` call
says ("press 1 for poor, up to 5 for very good": the template sees it inverted, as
``answer_keys``) and what a key pressed means (``service.follow_ups.answer_for``)."""
DEFAULT_FOLLOW_UP_QUESTION = "visit_rating"

CALL_KEYS: dict[str, str] = {"8": "opt_out"}
"""Keys a live call acts on for every kind besides its menu (KEYPAD): ``opt_out`` puts the
number on the never-call list. It is offered after the menu (the ``offer_opt_out`` reply),
not in the message, so the message stays the same on every channel.
"""

KEYPAD_REPLIES: tuple[str, ...] = (
    *dict.fromkeys(action for keys in (*KEYPAD.values(), CALL_KEYS) for action in keys.values()),
    "unknown",
    "offer_opt_out",
    "speech_check",
)
"""What a call says in each language (``keypad_replies`` in its ``language.json``): after a
key, the reply named for the key's action (``unknown`` for a key that does nothing), and
after the menu, ``offer_opt_out``. ``{opt_out}`` in a reply is said as the opt-out key.
``speech_check`` asks to confirm a spoken reply heard with low confidence by its key:
``{word}`` is said as the action's first reply word, ``{key}`` as its key.
"""

ACTION_KEYS: dict[str, str] = {
    action: key for keys in (*KEYPAD.values(), CALL_KEYS) for key, action in keys.items()
}
"""The key of each action: the same on every kind (1 confirm, 2 cancel, 9 repeat...)."""

SENTENCE_ENDS: tuple[str, ...] = (".", "!", "?", "。", "！", "？", "।", "۔", "؟", "։")
"""Marks that close a sentence in the scripts we write (Latin, CJK, Devanagari, Arabic,
Armenian)."""

_TODAY_VAR = "_rendered_on"
"""The render's "now", for the ``date`` filter only (a leading "_": no fact is named so)."""

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@dataclass(frozen=True)
class MessageFacts:
    """Everything a message may say. Times are timezone-aware; phones are E.164.

    Which facts a kind needs is decided by its templates; None means "not given".
    """

    patient_name: str
    clinic_name: str
    clinic_phone: str
    timezone: str
    appointment_start: datetime | None = None
    provider: str | None = None
    location: str | None = None
    instructions: str | None = None
    ordered_by: str | None = None
    previous_start: datetime | None = None
    """appointment_changed: when the visit was before it moved (optional)."""
    question: str | None = None
    """follow_up: which question (FOLLOW_UP_ANSWERS); None: DEFAULT_FOLLOW_UP_QUESTION."""


@dataclass(frozen=True)
class Message:
    """One rendered message: ``text`` for the patient to read, ``spoken`` for the engine."""

    text: str
    spoken: str
    kind: str
    language: str
    variant: str


class Name(str):
    """A fact that names someone or something (a patient, a clinic, a provider).

    For the ear its initials lose their full stops ("Ana L. Lopez" is said "Ana L Lopez"):
    the speaker reads a full stop and a space as a sentence's end, and would pause in the
    middle of the name and drop its voice as if the message had moved on.
    """


_INITIAL_STOP = re.compile(r"(?<![^\W\d_])([^\W\d_])\.(?=\s)")
NAME_FACTS = ("patient_name", "clinic_name", "provider", "ordered_by")


def said_name(name: str) -> str:
    """``name`` as the engine is given it: the full stops after its initials left out."""
    return _INITIAL_STOP.sub(r"\1", name)


@pass_context
def _finalize(ctx: Context, value: object) -> object:
    return said_name(value) if isinstance(value, Name) and ctx["for_ear"] else value


def make_environment(root: Path = TEMPLATE_ROOT) -> SandboxedEnvironment:
    """A sandboxed, strict, plain-text Jinja environment over the language folders.

    Immutable sandbox: templates only read facts, so they get no way to change anything.
    No autoescape: the output is speech and plain text, not HTML.
    """
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(root),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
        finalize=_finalize,
    )
    env.filters.update(_filters(root))
    return env


@lru_cache(maxsize=8)
def environment(root: Path = TEMPLATE_ROOT) -> SandboxedEnvironment:
    """The shared environment for ``root``; made once so compiled templates are reused."""
    return make_environment(root)


def languages(root: Path = TEMPLATE_ROOT) -> list[str]:
    """Language codes with a folder (and its ``language.json``), sorted."""
    return language_codes(root)


def available_kinds(language: str, root: Path = TEMPLATE_ROOT) -> list[str]:
    """Kinds this language can send: only those with all three variants written."""
    if language not in language_codes(root):
        return []
    folder = root / language
    return [
        kind
        for kind in KINDS
        if all((folder / f"{kind}.{variant}.j2").is_file() for variant in VARIANTS)
    ]


def template_name(language: str, kind: str, variant: str) -> str:
    """The loader name of a message's file, e.g. ``en/appointment_reminder.call.j2``."""
    return f"{language}/{kind}.{variant}.j2"


def render_message(
    kind: str,
    language: str,
    variant: str,
    facts: MessageFacts,
    *,
    root: Path = TEMPLATE_ROOT,
    wording: str | None = None,
    lexicon: Iterable[Entry] = (),
    today: datetime | None = None,
    offer_repeat_twice: bool = False,
) -> Message:
    """Render ``kind``/``variant`` in ``language`` with ``facts``, for the eye and the ear.

    ``wording`` is a clinic's own text for this message (``templates.wording``), in place
    of the file; ``lexicon`` the clinic's entries, over the language's own. ``today`` is
    when the message is rendered: a day far from it is said with its year (None: never).
    ``offer_repeat_twice``: the keypad menu (calls only) offers the repeat key again last.
    Raises UnknownTemplate, MissingFact, InvalidFact, BrokenTemplate or BadWording (all
    TemplateError).
    """
    if kind not in KINDS or variant not in VARIANTS:
        raise UnknownTemplate(language, kind, variant, f"kinds {KINDS}, variants {VARIANTS}")
    profile = load_profile(language, root)
    if profile is None:
        raise UnknownTemplate(language, kind, variant, f"languages {languages(root)}")
    name = template_name(language, kind, variant)
    patient_zone(facts.timezone)
    context = _context(facts, profile)
    context["kind"] = kind
    context["keypad"] = KEYPAD[kind]
    context["offer_repeat_twice"] = offer_repeat_twice
    if kind == "follow_up":
        question = context.setdefault("question", DEFAULT_FOLLOW_UP_QUESTION)
        if question not in FOLLOW_UP_ANSWERS:
            raise InvalidFact("question", f"it is not one of {sorted(FOLLOW_UP_ANSWERS)}")
        context["answer_keys"] = {a: k for k, a in FOLLOW_UP_ANSWERS[question].items()}
    if wording is None:
        template = _file_template(root, name, language, kind, variant)
    else:
        name = f"{name} (clinic wording)"
        template = _wording_template(root, wording, name)
        context[LITERALS_VAR] = compile_wording(wording).literals
        context[MENU_TEMPLATE_VAR] = menu_template(language)
    try:
        text = template.render(context, for_ear=False, **{_TODAY_VAR: today})
        spoken = template.render(context, for_ear=True, **{_TODAY_VAR: today})
    except UndefinedError as err:
        found = _UNDEFINED_NAME.match(err.message or "")
        if found:
            raise MissingFact(found.group(1), name) from err
        raise BrokenTemplate(name, err.message or "undefined value") from err
    except SecurityError as err:
        raise BrokenTemplate(name, f"refused by the sandbox: {err}") from err
    return Message(
        text=_collapse(text),
        spoken=layered(load_lexicon(language, root), lexicon).apply(_collapse(spoken)),
        kind=kind,
        language=language,
        variant=variant,
    )


def _file_template(root: Path, name: str, language: str, kind: str, variant: str) -> Template:
    try:
        return environment(root).get_template(name)
    except TemplateNotFound as err:
        raise UnknownTemplate(language, kind, variant, "its file is not written yet") from err
    except TemplateSyntaxError as err:
        raise BrokenTemplate(name, f"line {err.lineno}: {err.message}") from err


@lru_cache(maxsize=256)
def _wording_template(root: Path, wording: str, name: str) -> Template:
    """A clinic's text compiled once (``compile_wording`` raises BadWording first)."""
    source = compile_wording(wording).source
    try:
        return environment(root).from_string(source)
    except TemplateSyntaxError as err:  # a bug in compile_wording, not the clinic's text
        raise BrokenTemplate(name, f"compiled wording: {err.message}") from err


def keypad_reply(
    language: str, reply: str, *, root: Path = TEMPLATE_ROOT, action: str = "confirm"
) -> str:
    """The words a call says for ``reply`` (one of KEYPAD_REPLIES) in ``language``;
    ``action`` is the one a ``speech_check`` asks about.

    Raises UnknownTemplate when the language or its reply is missing, BrokenTemplate when
    the reply names a key that does not exist.
    """
    profile = load_profile(language, root)
    if profile is None:
        raise UnknownTemplate(language, "keypad", reply, f"languages {languages(root)}")
    text = dict(profile.keypad_replies).get(reply) if reply in KEYPAD_REPLIES else None
    if text is None:
        raise UnknownTemplate(language, "keypad", reply, f"replies {KEYPAD_REPLIES}")
    keys = {name: profile.key_word(key) for key, name in CALL_KEYS.items()}
    words = dict(profile.reply_words).get(action, ())
    if words and action in ACTION_KEYS:
        keys |= {"word": words[0], "key": profile.key_word(ACTION_KEYS[action])}
    try:
        return text.format(**keys)
    except (KeyError, IndexError, ValueError) as err:
        raise BrokenTemplate(
            f"{language}/language.json", f"keypad_replies.{reply}: {err!r}"
        ) from err


def repeated(message: Message, *, root: Path = TEMPLATE_ROOT) -> Message:
    """``message`` said twice, with the language's "Here is the message again." (the
    keypad reply ``repeat``) between: for a patient who asked to hear everything twice."""
    again = keypad_reply(message.language, "repeat", root=root)
    return replace(
        message,
        text=f"{message.text} {again} {message.text}",
        spoken=f"{message.spoken} {again} {message.spoken}",
    )


def keypad_replies(language: str, *, root: Path = TEMPLATE_ROOT) -> dict[str, str]:
    """Every keypad reply in ``language``, e.g. to speak them all ahead of a call."""
    return {reply: keypad_reply(language, reply, root=root) for reply in KEYPAD_REPLIES}


def first_name(patient_name: str) -> str:
    """The first word of the name: all a voicemail may say of who the message is for."""
    words = patient_name.split()
    return words[0] if words else ""


def _context(facts: MessageFacts, profile: LanguageProfile) -> dict[str, Any]:
    """Facts that are present; None and blank strings are left out so StrictUndefined sees them."""
    context: dict[str, Any] = {}
    for field in fields(facts):
        value = getattr(facts, field.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        context[field.name] = value.strip() if isinstance(value, str) else value
    for name in NAME_FACTS:
        if name in context:
            context[name] = Name(context[name])
    if "patient_name" in context:
        context["first_name"] = Name(first_name(context["patient_name"]))
    context["language"] = profile.code
    context["locale"] = profile.locale
    return context


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _text(value: object) -> str:
    # str() on a StrictUndefined raises its own UndefinedError, naming the missing fact.
    return str(value)


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    _text(value)
    raise InvalidFact("appointment_start", "it is not a date and time")


def _filters(root: Path) -> dict[str, Callable[..., object]]:
    """The template filters, bound to ``root`` so they read that root's language profiles."""

    def profile(ctx: Context) -> LanguageProfile:
        found = load_profile(ctx["language"], root)
        if found is None:  # render_message checked the language before rendering
            raise UnknownTemplate(ctx["language"], "?", "?")
        return found

    @pass_context
    def date(ctx: Context, value: object) -> str:
        said = profile(ctx)
        return spoken_date(
            _moment(value),
            ctx["locale"],
            ctx.get("timezone"),
            ordinal=said.ordinal_day and bool(ctx["for_ear"]),
            calendar=said.calendar,
            today=ctx.get(_TODAY_VAR),
        )

    @pass_context
    def time(ctx: Context, value: object) -> str:
        said = profile(ctx)
        written = spoken_time(
            _moment(value),
            ctx["locale"],
            ctx.get("timezone"),
            skeleton=said.time_skeleton,
            day_periods=dict(said.day_periods),
            clock_words=dict(said.clock_words),
        )
        return time_as_numbers(written) if said.time_as_numbers and ctx["for_ear"] else written

    @pass_context
    def local(ctx: Context, value: object) -> datetime:
        return local_moment(_moment(value), ctx.get("timezone"))

    @pass_context
    def phone(ctx: Context, value: object) -> str:
        if ctx["for_ear"]:
            return spoken_phone(_text(value), ctx["locale"])
        return display_phone(_text(value), ctx["locale"])

    @pass_context
    def person(ctx: Context, value: object, article: bool = False) -> str:
        titles = profile(ctx).titles
        said = spoken_person(_text(value), titles, for_ear=bool(ctx["for_ear"]), article=article)
        return said_name(said) if ctx["for_ear"] else said

    @pass_context
    def key(ctx: Context, value: object) -> str:
        return profile(ctx).key_word(_text(value)) if ctx["for_ear"] else _text(value)

    def sentence(value: object) -> str:
        text = _text(value).strip()
        return text if text.endswith(SENTENCE_ENDS) else f"{text}."

    return {
        "date": date,
        "time": time,
        "local": local,
        "phone": phone,
        "person": person,
        "key": key,
        "sentence": sentence,
    }
