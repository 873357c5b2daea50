"""Errors raised by the templates package.

Every error here derives from one root, so a caller (the render worker, the preview route)
can catch ``TemplateError`` and turn it into a clear answer for the person who sent the
reminder, while still telling the cases apart::

    TemplateError
    ├── UnknownTemplate   no template file for this language, kind and variant
    ├── MissingFact       the template needs a fact that is absent (None or blank)
    ├── InvalidFact       a fact is present but cannot be said (naive datetime,
    │                     unknown time zone, phone number that is not E.164)
    ├── BrokenTemplate    the template file itself is wrong: a syntax error, or an
    │                     expression the sandbox refused
    └── BadWording        a clinic's own wording names an unknown slot or uses
                          anything but bare slot names (``templates.wording``)

Jinja and phonenumbers errors are re-raised as one of these ``from err``, so the cause stays
on the traceback.
"""

from __future__ import annotations


class TemplateError(Exception):
    """Root of every error this package raises, so callers need one ``except``."""


class UnknownTemplate(TemplateError):
    """No message exists for the requested language, kind or variant.

    The service maps this to a 422 that lists what *is* available, so it carries the
    three names rather than a file path.
    """

    def __init__(self, language: str, kind: str, variant: str, detail: str = "") -> None:
        self.language = language
        self.kind = kind
        self.variant = variant
        message = f"no {variant!r} message of kind {kind!r} in language {language!r}"
        super().__init__(f"{message}: {detail}" if detail else message)


class MissingFact(TemplateError):
    """The template needs a fact the caller did not give (None or blank).

    ``fact`` is the MessageFacts field name, so an API layer can name the request field.
    """

    def __init__(self, fact: str, template: str) -> None:
        self.fact = fact
        self.template = template
        super().__init__(f"{template} needs the fact {fact!r}, which is missing")


class InvalidFact(TemplateError):
    """A fact is present but cannot be spoken correctly, so no message is better."""

    def __init__(self, fact: str, reason: str) -> None:
        self.fact = fact
        self.reason = reason
        super().__init__(f"fact {fact!r} cannot be said: {reason}")


class BrokenTemplate(TemplateError):
    """The template file is wrong (bad syntax, or refused by the sandbox): a bug to fix."""

    def __init__(self, template: str, reason: str) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"{template} is broken: {reason}")


class BadWording(TemplateError):
    """A clinic's wording cannot be used: each problem is a sentence staff can act on."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
