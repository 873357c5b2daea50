"""Plain-language patient messages: one Jinja file per language, kind and variant.

``render_message(kind, language, variant, facts)`` gives a ``Message`` with the transcript
(``text``) and the words for the speech engine (``spoken``). Helpers say dates, times and
phone numbers the way people do in each locale (``templates.speech``), grade how easy a
text is to read (``templates.readability``) and check that a voicemail says no more than
it may (``templates.privacy``). This package imports nothing else of the project.
"""

from templates.errors import (
    BrokenTemplate,
    InvalidFact,
    MissingFact,
    TemplateError,
    UnknownTemplate,
)
from templates.locales import LanguageProfile, Title, load_profile
from templates.privacy import voicemail_findings
from templates.readability import reading_grade
from templates.render import (
    KEYPAD,
    KINDS,
    VARIANTS,
    Message,
    MessageFacts,
    available_kinds,
    environment,
    first_name,
    languages,
    make_environment,
    render_message,
    template_name,
)
from templates.samples import SAMPLE_APPOINTMENT, SAMPLE_TODAY, sample_facts
from templates.speech import (
    display_phone,
    local_moment,
    spoken_date,
    spoken_person,
    spoken_phone,
    spoken_time,
)

__all__ = [
    "KEYPAD",
    "KINDS",
    "SAMPLE_APPOINTMENT",
    "SAMPLE_TODAY",
    "VARIANTS",
    "BrokenTemplate",
    "InvalidFact",
    "LanguageProfile",
    "Message",
    "MessageFacts",
    "MissingFact",
    "TemplateError",
    "Title",
    "UnknownTemplate",
    "available_kinds",
    "display_phone",
    "environment",
    "first_name",
    "languages",
    "load_profile",
    "local_moment",
    "make_environment",
    "reading_grade",
    "render_message",
    "sample_facts",
    "spoken_date",
    "spoken_person",
    "spoken_phone",
    "spoken_time",
    "template_name",
    "voicemail_findings",
]
