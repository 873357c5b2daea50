"""One logging set-up for every Tellwell process, built so that no PHI reaches a log.

``configure_logging`` is called by each process entry (``tellwell`` itself, so ``serve``
with uvicorn and ``worker`` with RQ; the spawned sweeper process) and installs one handler
on the root logger: JSON lines by default (``TELLWELL_LOG_FORMAT=text`` for people at a
terminal). Three rules keep names, phone numbers and message text out:

1. **Our own log calls** pass ids, counts and type names, never a name, a number or a
   message. This is the rule that matters; nothing below can recognise a name.
2. **A traceback shows exception types and frames (file, line, function) only**, never
   the exception's message, the source lines or any locals. Messages of arbitrary
   exceptions quote data: SQLAlchemy puts the statement's parameters (a patient's name,
   the transcript) in ``str(exc)``, the Twilio SDK the request it made. A pattern cannot
   tell a name from any other word, so the message is withheld rather than scrubbed; the
   type and the frames say what failed and where, which is what an operator acts on.
3. **A redaction filter** on the handler masks what a pattern finds cheaply in every
   message, a net for third-party loggers: phone numbers, e-mail addresses and the
   ``[parameters: ...]`` tail SQLAlchemy appends. Loggers that log request details at
   INFO (the Twilio SDK logs the ``To`` number, httpx the URL) are held at WARNING.

Uncaught exceptions (main thread and other threads) go through the same handler instead
of Python's default hook, which would print the message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Literal

LogFormat = Literal["json", "text"]

QUIET_LOGGERS = ("twilio", "httpx", "httpcore", "urllib3", "uvicorn.access")
"""Third-party loggers that log request URLs, parameters or headers at INFO or DEBUG."""
WITHHELD = "messages withheld: they may quote patient data"

_REDACTIONS = (
    # SQLAlchemy's "[parameters: ...]" runs to the end of its message.
    (re.compile(r"\[parameters: .*", re.DOTALL), "[parameters withheld]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # E.164 (+ and 7 to 15 digits, the + maybe URL-encoded), and North American numbers
    # written with separators.
    (re.compile(r"(?:\+|%2B)\d{7,15}\b", re.IGNORECASE), "[phone]"),
    (re.compile(r"(?<![\w-])\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b"), "[phone]"),
)


def redact(text: str) -> str:
    """``text`` with phone numbers, e-mail addresses and SQL parameters masked."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks the patterns of ``redact`` in every record's message, arguments merged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception as err:  # arguments that do not fit the format: say so, not raise
            message = f"{record.msg!r} could not be formatted ({type(err).__name__})"
        record.msg, record.args = redact(message), None
        record.exc_text = None  # another formatter's cached traceback may hold messages
        return True


def type_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def exception_chain(exc: BaseException) -> list[dict[str, Any]]:
    """The raised exception, then what caused it: type and frames each, no message."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = "raised"
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [
            {"file": frame.filename, "line": frame.lineno, "function": frame.name}
            for frame in traceback.extract_tb(current.__traceback__)
        ]
        chain.append({"type": type_name(type(current)), "via": link, "frames": frames})
        if current.__cause__ is not None:
            current, link = current.__cause__, "cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    return chain


def _exception_of(record: logging.LogRecord) -> BaseException | None:
    if isinstance(record.exc_info, tuple) and isinstance(record.exc_info[1], BaseException):
        return record.exc_info[1]
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the exception chain."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (exc := _exception_of(record)) is not None:
            line["exception"] = exception_chain(exc)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines; a traceback as Python prints one, without messages or source."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if (exc := _exception_of(record)) is None:
            return line
        parts = [line, f"Traceback ({WITHHELD}):"]
        for link in reversed(exception_chain(exc)):
            parts += [
                f'  File "{f["file"]}", line {f["line"]}, in {f["function"]}'
                for f in link["frames"]
            ]
            parts.append(link["type"])
            if link["via"] != "raised":
                parts.append("  which led to:")
        return "\n".join(parts)


def make_handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the redaction filter and a safe formatter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.set_name("tellwell")
    return handler


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Route every logger of this process through one safe handler on the root logger.

    Replaces whatever handlers the root had, so calling it again (a test, a second entry
    point in one process) does not double the lines. RQ and uvicorn add no handlers of
    their own once the root has one (rq's ``setup_loghandlers``; uvicorn with
    ``log_config=None``).
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(log_format))
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


_uncaught = logging.getLogger("tellwell.uncaught")


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C: nothing to report, no message
        sys.__excepthook__(exc_type, exc, tb)
        return
    _uncaught.critical("uncaught %s", exc_type.__name__, exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    thread = args.thread.name if args.thread is not None else "?"
    _uncaught.error(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
