"""The text message: a short note in the patient's language with the clinic's name and a
link to the listen page, and nothing else.

A text is read by whoever holds the phone, on a lock screen, in a shared family plan: so
its template is given only ``clinic_name`` and ``link``. No name, no visit, no result can
reach it, whatever a template says (a missing fact is an error, ``StrictUndefined``).
One file per language and kind, ``<language>/<kind>.sms.j2``, held to the same
plain-language gates as the spoken messages.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import TemplateNotFound

from templates.errors import UnknownTemplate
from templates.locales import TEMPLATE_ROOT
from templates.render import KINDS, environment

SMS_VARIANT = "sms"


def sms_text(
    language: str, kind: str, clinic_name: str, link: str, *, root: Path = TEMPLATE_ROOT
) -> str:
    """The text message for ``kind`` in ``language``. Raises UnknownTemplate."""
    if kind not in KINDS:
        raise UnknownTemplate(language, kind, SMS_VARIANT, f"kinds {KINDS}")
    try:
        template = environment(root).get_template(f"{language}/{kind}.{SMS_VARIANT}.j2")
    except TemplateNotFound as err:
        raise UnknownTemplate(language, kind, SMS_VARIANT, "its file is not written yet") from err
    text = template.render(clinic_name=clinic_name, link=link, for_ear=False)
    return " ".join(text.split())
