"""A Twilio simulator that speaks real HTTP, for tests and demos.

It serves the REST calls Tellwell makes (create, fetch and list calls; create and list
messages) and checks each request against Twilio's own OpenAPI description of the
2010-04-01 API: parameter names, required fields, enums and types. ``text_in`` posts a
patient's reply (STOP, START...) to the incoming-message webhook, signed. Then it
behaves like Twilio: it fetches the call's TwiML, fetches every ``<Play>`` URL and
checks it is audio, answers as a person or a machine, presses keys or says words (a
``Said`` posts ``SpeechResult`` and ``Confidence`` as Twilio's speech recognition does),
and sends status callbacks signed with Twilio's own ``RequestValidator.compute_signature``.
A ``Scenario`` per called number says what happens; a text's delivery (``text_outcome_for``)
is reported to its ``StatusCallback`` the same way. Every ``<Gather>`` is checked against
the attributes and values Twilio documents for it. Anything that does not match the API
description is kept in ``problems``.

Demo: ``python -m devtools.twilio_sim --port 8765 --token secret`` (see README).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

OPENAPI_NAME = Path("tests/twilio/twilio_api_v2010.json")
"""Twilio's API description, vendored in the project (see tests/twilio/README.md)."""
MESSAGES_OPENAPI_NAME = Path("tests/twilio/twilio_api_v2010_messages.json")
"""Its Messages create request, an excerpt vendored beside it."""
CALLS_PATH = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_LIST_PARAMS = frozenset({"To", "From", "DateSent", "PageSize", "Page", "PageToken"})
"""What the Messages list takes (not in the excerpt: checked by name only)."""
HTTP_TIMEOUT_S = 15.0
"""Twilio gives a webhook 15 seconds to answer."""
AUDIO_SIGNATURES = (b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"OggS")
START_TIMEOUT_S = 15.0
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
"""Twilio's default opt-out and opt-in keywords for messages (Advanced Opt-Out adds
``OptOutType`` to the incoming message's webhook)."""
HOLD_TIMEOUT_S = 120.0
"""A held call starts anyway after this, so a failed test cannot leave it waiting."""
GATHER_ATTRIBUTES = frozenset(
    {
        "action",
        "actionOnEmptyResult",
        "enhanced",
        "finishOnKey",
        "hints",
        "input",
        "language",
        "method",
        "numDigits",
        "partialResultCallback",
        "partialResultCallbackMethod",
        "profanityFilter",
        "speechModel",
        "speechTimeout",
        "timeout",
    }
)
"""``<Gather>``'s attributes in Twilio's TwiML reference (there is no machine-readable
description of TwiML, so the reference's table is transcribed here)."""
GATHER_INPUTS = frozenset({"dtmf", "speech", "dtmf speech", "speech dtmf"})
HINT_MAX_CHARS = 100
"""Twilio's reference: each hint (comma-separated) at most 100 characters."""
SPEECH_LANGUAGES = frozenset(
    [
        "af-ZA",
        "am-ET",
        "ar-AE",
        "ar-BH",
        "ar-DZ",
        "ar-EG",
        "ar-IL",
        "ar-IQ",
        "ar-JO",
        "ar-KW",
        "ar-LB",
        "ar-MA",
        "ar-OM",
        "ar-PS",
        "ar-QA",
        "ar-SA",
        "ar-TN",
        "ar-YE",
        "az-AZ",
        "bg-BG",
        "bn-BD",
        "bn-IN",
        "ca-ES",
        "cmn-Hans-CN",
        "cmn-Hans-HK",
        "cmn-Hant-TW",
        "cs-CZ",
        "da-DK",
        "de-DE",
        "el-GR",
        "en-AU",
        "en-CA",
        "en-GB",
        "en-GH",
        "en-IE",
        "en-IN",
        "en-KE",
        "en-NG",
        "en-NZ",
        "en-PH",
        "en-TZ",
        "en-US",
        "en-ZA",
        "es-AR",
        "es-BO",
        "es-CL",
        "es-CO",
        "es-CR",
        "es-DO",
        "es-EC",
        "es-ES",
        "es-GT",
        "es-HN",
        "es-MX",
        "es-NI",
        "es-PA",
        "es-PE",
        "es-PR",
        "es-PY",
        "es-SV",
        "es-US",
        "es-UY",
        "es-VE",
        "eu-ES",
        "fa-IR",
        "fi-FI",
        "fil-PH",
        "fr-CA",
        "fr-FR",
        "gl-ES",
        "gu-IN",
        "he-IL",
        "hi-IN",
        "hr-HR",
        "hu-HU",
        "hy-AM",
        "id-ID",
        "is-IS",
        "it-IT",
        "ja-JP",
        "jv-ID",
        "ka-GE",
        "km-KH",
        "kn-IN",
        "ko-KR",
        "lo-LA",
        "lt-LT",
        "lv-LV",
        "ml-IN",
        "mr-IN",
        "ms-MY",
        "nb-NO",
        "ne-NP",
        "nl-NL",
        "pl-PL",
        "pt-BR",
        "pt-PT",
        "ro-RO",
        "ru-RU",
        "si-LK",
        "sk-SK",
        "sl-SI",
        "sr-RS",
        "su-ID",
        "sv-SE",
        "sw-KE",
        "sw-TZ",
        "ta-IN",
        "ta-LK",
        "ta-MY",
        "ta-SG",
        "te-IN",
        "th-TH",
        "tr-TR",
        "uk-UA",
        "ur-IN",
        "ur-PK",
        "vi-VN",
        "yue-Hant-HK",
        "zu-ZA",
    ]
)
"""The ``language`` values Twilio's speech recognition takes (its reference's table of
speech recognition languages, transcribed); Haitian Creole, Somali, Punjabi and
Albanian are not among them."""
TEXT_FINAL = frozenset({"delivered", "undelivered", "failed"})


@cache
def _spec(name: Path = OPENAPI_NAME) -> dict[str, Any]:
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").exists():  # the project root, and no further
            return dict(json.loads((folder / name).read_text()))
    raise FileNotFoundError(f"no project root above {__file__}")


def _form_schema(name: Path, path: str) -> dict[str, Any]:
    operation = _spec(name)["paths"][path]["post"]
    return dict(operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"])


def _described_choices(description: str) -> list[str] | None:
    """Enums Twilio gives only in prose ("Can be: `Enable` or `DetectMessageEnd`")."""
    match = re.search(
        r"Can be: ((?:`[^`]+`(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)?)+)", description
    )
    return re.findall(r"`([^`]+)`", match.group(1)) if match else None


def check_params(schema: dict[str, Any], params: dict[str, list[str]]) -> list[str]:
    """What is wrong with ``params`` against an OpenAPI object schema."""
    problems = []
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in params:
            problems.append(f"missing required {name}")
    for name, values in params.items():
        prop = properties.get(name)
        if prop is None:
            problems.append(f"unknown parameter {name}")
            continue
        if prop.get("type") != "array" and len(values) > 1:
            problems.append(f"{name} given {len(values)} times")
        item = prop.get("items", prop)
        choices = (
            item.get("enum") or prop.get("enum") or _described_choices(prop.get("description", ""))
        )
        for value in values:
            if choices and value not in choices:
                problems.append(f"{name}={value!r} not one of {choices}")
            if item.get("type") == "integer" and not value.lstrip("-").isdigit():
                problems.append(f"{name}={value!r} is not an integer")
            if prop.get("format") == "uri" and not re.match(r"https?://", value):
                problems.append(f"{name} is not an absolute URL")
    return problems


def check_gather(gather: ET.Element) -> list[str]:
    """What is wrong with a ``<Gather>`` against Twilio's TwiML reference."""
    attrs = gather.attrib
    problems = [
        f"<Gather> has no attribute {name}" for name in attrs if name not in GATHER_ATTRIBUTES
    ]
    inputs = attrs.get("input", "dtmf")
    if inputs not in GATHER_INPUTS:
        problems.append(f"<Gather input={inputs!r}>")
    if "speech" in inputs and attrs.get("language", "en-US") not in SPEECH_LANGUAGES:
        problems.append(f"<Gather language={attrs.get('language')!r}> is not recognised")
    for name in ("numDigits", "timeout"):
        if name in attrs and not (attrs[name].isdigit() and int(attrs[name]) > 0):
            problems.append(f"<Gather {name}={attrs[name]!r}>")
    speech_timeout = attrs.get("speechTimeout", "auto")
    if speech_timeout != "auto" and not speech_timeout.isdigit():
        problems.append(f"<Gather speechTimeout={speech_timeout!r}>")
    if attrs.get("method", "POST") not in ("GET", "POST"):
        problems.append(f"<Gather method={attrs['method']!r}>")
    hints = [hint.strip() for hint in attrs.get("hints", "").split(",") if hint.strip()]
    problems += [f"hint over {HINT_MAX_CHARS} characters" for h in hints if len(h) > HINT_MAX_CHARS]
    return problems


@dataclass(frozen=True)
class Said:
    """Words a person says to a ``<Gather>``, as Twilio's speech recognition heard them."""

    words: str
    confidence: float = 0.9


@dataclass
class Scenario:
    """What happens on one call."""

    answer: str = "human"
    """``human``, ``machine``, ``busy``, ``no-answer`` or ``failed``."""
    keys: list[str | Said] = field(default_factory=list)
    """Keys pressed or words said, one per ``<Gather>``, in order. Words said to a
    ``<Gather>`` that takes keys only do nothing: it times out, as on Twilio."""
    duplicate_callbacks: bool = False
    """Send the final callback twice, and a stale ``ringing`` after it."""
    hold: threading.Event | None = None
    """If given, the call stays ``queued`` (no callbacks at all) until this is set."""
    dial: str = "completed"
    """How a ``<Dial>`` to the clinic ends (Twilio's ``DialCallStatus``): ``completed``,
    ``no-answer``, ``busy`` or ``failed``; sent to the ``<Dial action>`` when it has one."""


@dataclass
class SimCall:
    sid: str
    params: dict[str, list[str]]
    scenario: Scenario
    date_created: datetime
    status: str = "queued"
    answered_by: str | None = None
    duration: int | None = None
    played: list[str] = field(default_factory=list)
    """Every ``<Play>`` URL fetched, in order."""
    pressed: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    """Words Twilio heard and posted to a ``<Gather>`` action."""
    gathers: list[dict[str, str]] = field(default_factory=list)
    """Every ``<Gather>``'s attributes, in order."""
    dialed: list[str] = field(default_factory=list)
    callbacks: list[tuple[str, int]] = field(default_factory=list)
    """(CallStatus, our HTTP status) per status callback sent."""

    def param(self, name: str) -> str:
        return self.params.get(name, [""])[0]

    def resource(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.param("To"),
            "from": self.param("From"),
            "status": self.status,
            "answered_by": self.answered_by,
            "duration": str(self.duration) if self.duration is not None else None,
            "date_created": format_datetime(self.date_created),
            "date_updated": format_datetime(datetime.now(UTC)),
            "start_time": format_datetime(self.date_created),
            "end_time": None,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{self.sid}.json",
        }


@dataclass
class SimMessage:
    """A text Tellwell sent through the Messages API."""

    sid: str
    params: dict[str, list[str]]
    date_created: datetime
    outcome: str = "delivered"
    """How it ends: ``delivered``, ``undelivered`` or ``failed``."""
    status: str = "queued"
    callbacks: list[tuple[str, int]] = field(default_factory=list)
    """(MessageStatus, our HTTP status) per status callback sent."""

    def param(self, name: str) -> str:
        return self.params.get(name, [""])[0]

    def resource(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.param("To"),
            "from": self.param("From"),
            "body": self.param("Body"),
            "status": self.status,
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": format_datetime(self.date_created),
            "date_updated": format_datetime(self.date_created),
            "date_sent": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json",
        }


class TwilioSimulator:
    """Twilio's REST API and call behaviour on a loopback port."""

    def __init__(self, account_sid: str, auth_token: str, *, place_calls: bool = True) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.validator = RequestValidator(auth_token)
        self.place_calls = place_calls
        self.default_scenario = Scenario()
        self.scenarios: dict[str, list[Scenario]] = {}
        self.text_outcomes: dict[str, list[str]] = {}
        self.calls: dict[str, SimCall] = {}
        self.messages: dict[str, SimMessage] = {}
        self.problems: list[str] = []
        self.create_requests: list[float] = []
        """Monotonic time of every create request that placed a call."""
        self.throttle_next = 0
        """Answer this many coming creates with 429 (a rate-limit storm)."""
        self.retry_after_s = 1
        self.fail_next = 0
        """Answer this many coming creates with 500, placing no call (an outage at Twilio)."""
        self.failed_creates = 0
        self.on_create: Callable[[SimCall], None] | None = None
        """Runs once a call is placed, before the answer goes back (e.g. kill the caller)."""
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None
        self.url = ""

    # -- set-up ------------------------------------------------------------------------

    def scenario_for(self, number: str, *scenarios: Scenario) -> None:
        """Calls to ``number`` follow these, one per call; the last one repeats."""
        self.scenarios[number] = list(scenarios)

    def text_outcome_for(self, number: str, *outcomes: str) -> None:
        """Texts to ``number`` end so (``delivered``, ``undelivered``, ``failed``), one per
        text; the last one repeats. Default: delivered."""
        assert set(outcomes) <= TEXT_FINAL, outcomes
        self.text_outcomes[number] = list(outcomes)

    def start(self, port: int = 0) -> TwilioSimulator:
        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        app = Starlette(
            routes=[
                Route(f"{base}/Calls.json", self._create, methods=["POST"]),
                Route(f"{base}/Calls.json", self._list, methods=["GET"]),
                Route(base + "/Calls/{sid}.json", self._fetch, methods=["GET"]),
                Route(f"{base}/Messages.json", self._create_message, methods=["POST"]),
                Route(f"{base}/Messages.json", self._list_messages, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Twilio simulator did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.wait_idle()
        if self._server is not None:
            self._server.should_exit = True

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Wait until every placed call has run its course."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def calls_to(self, number: str) -> list[SimCall]:
        with self._lock:
            return [c for c in self.calls.values() if c.param("To") == number]

    def texts_to(self, number: str) -> list[SimMessage]:
        with self._lock:
            return [m for m in self.messages.values() if m.param("To") == number]

    def text_in(self, url: str, from_: str, to: str, body: str) -> httpx.Response:
        """A patient's reply, as Twilio posts an incoming message to the number's webhook:
        signed, with ``OptOutType`` for Twilio's opt-out and opt-in keywords."""
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        keyword = body.strip().upper()
        if keyword in OPT_OUT_KEYWORDS:
            params["OptOutType"] = "STOP"
        elif keyword in OPT_IN_KEYWORDS:
            params["OptOutType"] = "START"
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
            return self._signed_post(client, url, params)

    # -- REST API ----------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def _error(self, status: int, message: str, **headers: str) -> JSONResponse:
        body = {"code": 20000 + status, "message": message, "status": status}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _create(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Authenticate")
        form = await request.form()
        params: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            params.setdefault(key, []).append(str(value))
        found = check_params(_form_schema(OPENAPI_NAME, CALLS_PATH), params)
        if found:
            self.problems.extend(found)
            return self._error(400, "; ".join(found))
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failed_creates += 1
                return self._error(500, "Internal Server Error")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return self._error(
                    429, "Too Many Requests", **{"Retry-After": str(self.retry_after_s)}
                )
            self.create_requests.append(time.monotonic())
            queue = self.scenarios.get(params["To"][0])
            scenario = (
                (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else self.default_scenario
            )
            call = SimCall(
                sid="CA" + uuid.uuid4().hex,
                params=params,
                scenario=scenario,
                date_created=datetime.now(UTC).replace(microsecond=0),
            )
            self.calls[call.sid] = call
        if self.on_create is not None:
            self.on_create(call)
        if self.place_calls:
            thread = threading.Thread(target=self._run_call, args=(call,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return JSONResponse(call.resource(self.account_sid), status_code=201)

    async def _create_message(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Authenticate")
        form = await request.form()
        params: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            params.setdefault(key, []).append(str(value))
        found = check_params(_form_schema(MESSAGES_OPENAPI_NAME, MESSAGES_PATH), params)
        if "Body" not in params and "MediaUrl" not in params and "ContentSid" not in params:
            found.append("a message needs Body, MediaUrl or ContentSid")
        if found:
            self.problems.extend(found)
            return self._error(400, "; ".join(found))
        with self._lock:
            queue = self.text_outcomes.get(params["To"][0])
            outcome = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else "delivered"
            message = SimMessage(
                sid="SM" + uuid.uuid4().hex,
                params=params,
                date_created=datetime.now(UTC).replace(microsecond=0),
                outcome=outcome,
            )
            self.messages[message.sid] = message
        answer = message.resource(self.account_sid)
        if message.param("StatusCallback"):
            thread = threading.Thread(target=self._deliver_text, args=(message,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return JSONResponse(answer, status_code=201)

    def _deliver_text(self, message: SimMessage) -> None:
        """The carrier's side: ``sent``, then how it ended, each posted signed to the
        message's ``StatusCallback`` as Twilio does (with ``ErrorCode`` when it failed)."""
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
            for status in ("sent", message.outcome):
                message.status = status
                params = {
                    "MessageSid": message.sid,
                    "SmsSid": message.sid,
                    "AccountSid": self.account_sid,
                    "From": message.param("From"),
                    "To": message.param("To"),
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "ApiVersion": "2010-04-01",
                }
                if status in ("undelivered", "failed"):
                    params["ErrorCode"] = "30003" if status == "undelivered" else "30008"
                try:
                    answer = self._signed_post(client, message.param("StatusCallback"), params)
                    message.callbacks.append((status, answer.status_code))
                except httpx.HTTPError as err:
                    message.callbacks.append((status, 0))
                    self.problems.append(f"text status callback failed: {type(err).__name__}")

    async def _list_messages(self, request: Request) -> Response:
        return self._list_of(request, "messages", self.messages, MESSAGE_LIST_PARAMS, "message ")

    async def _fetch(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._error(401, "Authenticate")
        call = self.calls.get(request.path_params["sid"])
        if call is None:
            return self._error(404, "The requested resource was not found")
        return JSONResponse(call.resource(self.account_sid))

    async def _list(self, request: Request) -> Response:
        names = {p["name"] for p in _spec()["paths"][CALLS_PATH]["get"]["parameters"]}
        return self._list_of(request, "calls", self.calls, names, "")

    def _list_of(
        self,
        request: Request,
        key: str,
        records: Mapping[str, Any],
        allowed: Collection[str],
        label: str,
    ) -> Response:
        """One page of calls or messages, newest first, filtered by To and From as
        Twilio's list endpoints are; a parameter Twilio does not take is a problem."""
        if not self._authorised(request):
            return self._error(401, "Authenticate")
        query = request.query_params
        unknown = [k for k in query if k not in allowed]
        if unknown:
            self.problems.append(f"unknown {label}list parameters {unknown}")
            return self._error(400, f"unknown parameters {unknown}")
        with self._lock:
            found = [
                r
                for r in records.values()
                if (not query.get("To") or r.param("To") == query["To"])
                and (not query.get("From") or r.param("From") == query["From"])
            ]
        found.sort(key=lambda r: r.date_created, reverse=True)
        size = int(query.get("PageSize", "50"))
        return JSONResponse(
            {
                key: [r.resource(self.account_sid) for r in found[:size]],
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": min(size, len(found)) - 1,
                "uri": str(request.url.path),
                "first_page_uri": str(request.url.path),
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    # -- the call ----------------------------------------------------------------------

    def _signed_post(
        self, client: httpx.Client, url: str, params: dict[str, str]
    ) -> httpx.Response:
        signature = self.validator.compute_signature(url, params)
        return client.post(url, data=params, headers={"X-Twilio-Signature": signature})

    def _status(self, client: httpx.Client, call: SimCall, status: str, event: str) -> None:
        events = call.params.get("StatusCallbackEvent", [])
        url = call.param("StatusCallback")
        if not url or (event != "completed" and event not in events):
            return
        params = self._call_params(call, status)
        if call.duration is not None and status not in ("initiated", "ringing", "in-progress"):
            params["CallDuration"] = str(call.duration)
        try:
            answer = self._signed_post(client, url, params)
            call.callbacks.append((status, answer.status_code))
        except httpx.HTTPError as err:
            call.callbacks.append((status, 0))
            self.problems.append(f"status callback failed: {type(err).__name__}")

    def _call_params(self, call: SimCall, status: str) -> dict[str, str]:
        params = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.param("From"),
            "To": call.param("To"),
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        return params

    def _run_call(self, call: SimCall) -> None:
        scenario = call.scenario
        if scenario.hold is not None and not scenario.hold.wait(HOLD_TIMEOUT_S):
            self.problems.append(f"call {call.sid} held for over {HOLD_TIMEOUT_S} s")
        started = time.monotonic()
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
            call.status = "initiated"
            self._status(client, call, "initiated", "initiated")
            call.status = "ringing"
            self._status(client, call, "ringing", "ringing")
            if scenario.answer in ("busy", "no-answer", "failed"):
                call.status = scenario.answer
                call.duration = 0
                self._finish(client, call, scenario.answer)
                return
            call.status = "in-progress"
            call.answered_by = "machine_end_beep" if scenario.answer == "machine" else "human"
            self._status(client, call, "in-progress", "answered")
            try:
                self._play_twiml(client, call)
            except (httpx.HTTPError, ET.ParseError) as err:
                self.problems.append(f"call {call.sid}: {type(err).__name__}: {err}")
            call.status = "completed"
            call.duration = max(1, round(time.monotonic() - started))
            self._finish(client, call, "completed")

    def _finish(self, client: httpx.Client, call: SimCall, status: str) -> None:
        self._status(client, call, status, "completed")
        if call.scenario.duplicate_callbacks:
            self._status(client, call, status, "completed")
            self._status(client, call, "ringing", "ringing")

    def _play_twiml(self, client: httpx.Client, call: SimCall) -> None:
        url = call.param("Url")
        keys = list(call.scenario.keys)
        answer = self._signed_post(client, url, self._call_params(call, "in-progress"))
        while True:
            if answer.status_code != 200 or "xml" not in answer.headers.get("content-type", ""):
                self.problems.append(f"TwiML fetch gave {answer.status_code}")
                return
            # Our own app's TwiML on loopback, not untrusted input.
            document = ET.fromstring(answer.text)  # noqa: S314
            if document.tag != "Response":
                self.problems.append(f"TwiML root is {document.tag}")
                return
            next_answer = None
            for verb in document:
                if verb.tag == "Play":
                    self._play(client, call, verb)
                elif verb.tag == "Gather":
                    call.gathers.append(dict(verb.attrib))
                    self.problems.extend(check_gather(verb))
                    for inner in verb:
                        if inner.tag == "Play":
                            self._play(client, call, inner)
                    answer_params = self._answer(call, verb, keys.pop(0)) if keys else None
                    if answer_params is not None:
                        params = self._call_params(call, "in-progress") | answer_params
                        action = urljoin(url, verb.get("action", url))
                        next_answer = self._signed_post(client, action, params)
                        url = action
                        break
                elif verb.tag == "Dial":
                    call.dialed.append((verb.text or "").strip())
                    if verb.get("action"):
                        action = urljoin(url, verb.get("action", url))
                        next_answer = self._signed_post(client, action, self._dial_params(call))
                        url = action
                        break
                    return
                elif verb.tag == "Hangup":
                    return
            if next_answer is None:
                return
            answer = next_answer

    def _dial_params(self, call: SimCall) -> dict[str, str]:
        """What Twilio posts to a ``<Dial action>`` once the dialled call ends."""
        status = call.scenario.dial
        duration = "30" if status == "completed" else "0"
        return self._call_params(call, "in-progress") | {
            "DialCallStatus": status,
            "DialCallSid": "CA" + uuid.uuid4().hex,
            "DialCallDuration": duration,
        }

    def _answer(
        self, call: SimCall, gather: ET.Element, given: str | Said
    ) -> dict[str, str] | None:
        """What Twilio posts to the ``<Gather>`` action for a key or words; None when the
        words fall on a ``<Gather>`` that takes keys only (it times out)."""
        if isinstance(given, str):
            call.pressed.append(given)
            return {"Digits": given}
        if "speech" not in gather.get("input", "dtmf"):
            return None
        call.said.append(given.words)
        return {"SpeechResult": given.words, "Confidence": f"{given.confidence:.8f}"}

    def _play(self, client: httpx.Client, call: SimCall, verb: ET.Element) -> None:
        link = (verb.text or "").strip()
        got = client.get(link)
        call.played.append(link)
        is_audio = got.headers.get("content-type", "").startswith("audio/")
        if got.status_code != 200 or not is_audio or not got.content.startswith(AUDIO_SIGNATURES):
            self.problems.append(f"<Play> gave {got.status_code} {got.headers.get('content-type')}")


def main() -> None:
    """Run the simulator for a demo: every call is answered by a person who presses 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--token", required=True, help="the auth token Tellwell is given")
    parser.add_argument(
        "--answer", default="human", choices=["human", "machine", "busy", "no-answer"]
    )
    parser.add_argument("--keys", default="1", help="keys the person presses, e.g. 91")
    args = parser.parse_args()
    sim = TwilioSimulator(args.account_sid, args.token)
    sim.default_scenario = Scenario(answer=args.answer, keys=list(args.keys))
    sim.start(args.port)
    print(f"Twilio simulator at {sim.url} (account {args.account_sid}); Ctrl-C stops it")
    seen = 0
    try:
        while True:
            time.sleep(1)
            for problem in sim.problems[seen:]:
                print("PROBLEM:", problem)
            seen = len(sim.problems)
            for call in list(sim.calls.values()):
                if call.status in ("completed", "busy", "no-answer", "failed") and call.callbacks:
                    print(
                        f"{call.sid}: {call.status} by {call.answered_by}, "
                        f"pressed {call.pressed}, played {len(call.played)} audio"
                    )
                    call.callbacks = []
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
