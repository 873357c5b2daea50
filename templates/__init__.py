"""Plain-language patient messages: one Jinja file per language, kind and variant.

``render_message(kind, language, variant, facts)`` gives a ``Message`` with the transcript
(``text``) and the words for the speech engine (``spoken``). Helpers say dates, times and
phone numbers the way people do in each locale (``templates.speech``), grade how easy a
text is to read (``templates.readability``), check clinics' own wording (``templates.wording``,
``templates.gates``) and check that a voicemail says no more than
it may (``templates.privacy``), and find a clinic's free text written in another language
than the message (``templates.text_language``). This package imports nothing else of the project.
"""

from templates.errors import (
    BadWording,
    BrokenTemplate,
    InvalidFact,
    MissingFact,
    TemplateError,
    UnknownTemplate,
)
from templates.gates import READING_GRADE_MAX, GateReport, check_wording
from templates.lexicon import Entry, Lexicon, layered, load_lexicon
from templates.locales import Calendar, LanguageProfile, Title, load_profile
from templates.privacy import voicemail_findings
from templates.readability import plain_language_findings, reading_grade
from templates.render import (
    ACTION_KEYS,
    CALL_KEYS,
    DEFAULT_FOLLOW_UP_QUESTION,
    FOLLOW_UP_ANSWERS,
    KEYPAD,
    KEYPAD_REPLIES,
    KINDS,
    SENTENCE_ENDS,
    VARIANTS,
    Message,
    MessageFacts,
    available_kinds,
    environment,
    first_name,
    keypad_replies,
    keypad_reply,
    languages,
    make_environment,
    render_message,
    repeated,
    template_name,
)
from templates.replies import heard_action, normalise, reply_words, speech_hints
from templates.samples import (
    SAMPLE_APPOINTMENT,
    SAMPLE_PREVIOUS_START,
    SAMPLE_TODAY,
    sample_facts,
)
from templates.sms import SMS_VARIANT, sms_text
from templates.speech import (
    display_phone,
    local_moment,
    spoken_date,
    spoken_person,
    spoken_phone,
    spoken_time,
)
from templates.text_language import FREE_TEXT_FACTS, ForeignText, foreign_text
from templates.wording import SLOTS, shipped_wording_hash, wording_slots

__all__ = [
    "ACTION_KEYS",
    "CALL_KEYS",
    "DEFAULT_FOLLOW_UP_QUESTION",
    "FOLLOW_UP_ANSWERS",
    "FREE_TEXT_FACTS",
    "KEYPAD",
    "KEYPAD_REPLIES",
    "KINDS",
    "READING_GRADE_MAX",
    "SAMPLE_APPOINTMENT",
    "SAMPLE_PREVIOUS_START",
    "SAMPLE_TODAY",
    "SENTENCE_ENDS",
    "SLOTS",
    "SMS_VARIANT",
    "VARIANTS",
    "BadWording",
    "BrokenTemplate",
    "Calendar",
    "Entry",
    "ForeignText",
    "GateReport",
    "InvalidFact",
    "LanguageProfile",
    "Lexicon",
    "Message",
    "MessageFacts",
    "MissingFact",
    "TemplateError",
    "Title",
    "UnknownTemplate",
    "available_kinds",
    "check_wording",
    "display_phone",
    "environment",
    "first_name",
    "foreign_text",
    "heard_action",
    "keypad_replies",
    "keypad_reply",
    "languages",
    "layered",
    "load_lexicon",
    "load_profile",
    "local_moment",
    "make_environment",
    "normalise",
    "plain_language_findings",
    "reading_grade",
    "render_message",
    "repeated",
    "reply_words",
    "sample_facts",
    "shipped_wording_hash",
    "sms_text",
    "speech_hints",
    "spoken_date",
    "spoken_person",
    "spoken_phone",
    "spoken_time",
    "template_name",
    "voicemail_findings",
    "wording_slots",
]
