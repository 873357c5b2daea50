"""The OpenAPI document names every status each JSON route can answer, and no other.

Which statuses a route can give is read from the code, not listed by hand:

- the handler and every dependency in its FastAPI dependency tree are parsed, and so is
  every project function or class they call (by name, or by a dotted name through a module
  or class), recursively; each ``Problem(<status>, ...)`` (or a subclass, which passes its
  status on in ``super().__init__``) and each literal ``status_code=`` given to a response
  counts;
- what the framework adds: a JSON body can be unreadable (400, FastAPI), too large (413,
  the app's ``BodySizeLimit`` middleware, itself read the same way) or invalid (422); a
  parameter that can fail validation gives 422; a file response answers ranges with 206;
- what the app's exception handlers add: a route that takes a database session answers
  503 while the database is unreachable (``service.errors``, ``database-unavailable``).

Calls on objects held in variables (``services.pipeline.enqueue``) cannot be followed from
the source; none of them raises a ``Problem`` today, which the route tests check.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import FileResponse, Response

from service.app import create_app
from service.config import Settings
from service.deps import SessionDep
from service.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, BodySizeLimit, Problem
from service.escalation import TEXT_STATUSES
from service.models import NEXT_STATUSES, Role, Status
from service.schemas import AttemptOutcome, DeliveryChannel, EngineName, TextStatus
from voices.espeak import EspeakEngine
from voices.gtts_engine import GttsEngine
from voices.http_engine import HttpEngine
from voices.pico_engine import PicoEngine
from voices.piper_engine import PiperEngine
from voices.pyttsx3_engine import Pyttsx3Engine
from voices.rhvoice_engine import RhvoiceEngine
from workers.channels.app import AppChannel
from workers.channels.outbox import OutboxChannel
from workers.channels.twilio import RETRYABLE_CALL_STATUSES, TwilioChannel
from workers.channels.twilio_sms import TwilioSmsChannel

PROJECT_PACKAGES = frozenset({"service", "workers", "templates", "voices"})
UNDOCUMENTED_PREFIXES = ("/console", "/listen", "/v1/twilio", "/docs", "/favicon.ico", "/metrics")
"""Pages, Twilio's callbacks and Prometheus's scrape (text, not JSON; docs/api.md describes
it): not part of the JSON API a client is generated for."""
FRAMEWORK_BODY_STATUSES = frozenset({400, 422})
"""FastAPI: a body it cannot read (not UTF-8) is a 400, one that fails validation a 422."""
RANGE_STATUS = 206
DATABASE_UNAVAILABLE = 503
SESSION_DEPENDENCY = get_args(SessionDep)[1].dependency
"""The per-request database session: a route that takes it reaches the database."""
HTTP_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD"})
NOT_PROBLEMS = {("GET", "/readyz", "503")}
"""Answers that are deliberately not problems: readiness reports what is down, as JSON."""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir = tmp_path_factory.mktemp("openapi-coverage")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'unused.sqlite3'}",
        secret_key="openapi-coverage",
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every JSON route as FastAPI serves it (prefix, dependencies and all), included or not."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def documented_routes(app: FastAPI) -> Iterator[tuple[str, Any]]:
    for route in api_routes(app):
        if route.include_in_schema:
            for method in sorted(route.methods):
                yield method, route


class StatusReader:
    """The statuses a callable can answer with, read from its source and what it calls."""

    def __init__(self) -> None:
        self._done: dict[object, frozenset[int]] = {}
        self.unreadable: list[str] = []
        """Problems whose status is not a literal: the test fails on these."""

    def function(self, fn: Callable[..., Any]) -> frozenset[int]:
        fn = inspect.unwrap(fn)
        if fn in self._done:
            return self._done[fn]
        self._done[fn] = frozenset()  # recursion guard
        statuses = self._read(fn, owner=_owner_class(fn))
        self._done[fn] = statuses
        return statuses

    def klass(self, cls: type) -> frozenset[int]:
        """A project class called or constructed: what its own methods can raise."""
        if cls in self._done:
            return self._done[cls]
        self._done[cls] = frozenset()
        statuses: set[int] = set()
        source_file = inspect.getsourcefile(cls)
        for member in vars(cls).values():
            method = getattr(member, "__func__", member)
            # Generated methods (dataclass __eq__, pydantic __init__) have no source to read.
            if inspect.isfunction(method) and method.__code__.co_filename == source_file:
                statuses |= self.function(method)
        self._done[cls] = frozenset(statuses)
        return self._done[cls]

    def _read(self, fn: Callable[..., Any], owner: type | None) -> frozenset[int]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        names = _namespace(fn)
        statuses: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if _is_super_init(node) and owner is not None and issubclass(owner, Problem):
                statuses |= self._problem_status(node, fn)
                continue
            target = _resolve(node.func, names)
            if isinstance(target, type) and issubclass(target, Response):
                statuses |= _literal_status_codes(node)
            if isinstance(target, type) and issubclass(target, Problem):
                statuses |= self._constructed_problem(target, node, fn)
            elif isinstance(target, type) and _in_project(target):
                statuses |= self.klass(target)
            elif (
                callable(target)
                and _in_project(target)
                and inspect.isfunction(inspect.unwrap(target))
            ):
                statuses |= self.function(target)
        return frozenset(statuses)

    def _constructed_problem(
        self, cls: type, call: ast.Call, where: Callable[..., Any]
    ) -> set[int]:
        if cls is Problem:
            return self._problem_status(call, where)
        return set(self.function(cls.__init__))

    def _problem_status(self, call: ast.Call, where: Callable[..., Any]) -> set[int]:
        status = call.args[0] if call.args else None
        for keyword in call.keywords:
            if keyword.arg == "status":
                status = keyword.value
        if isinstance(status, ast.Constant) and isinstance(status.value, int):
            return {status.value}
        self.unreadable.append(f"{where.__module__}.{where.__qualname__}: {ast.unparse(call)}")
        return set()


def _namespace(fn: Callable[..., Any]) -> dict[str, Any]:
    closure = inspect.getclosurevars(fn)
    return {**fn.__globals__, **closure.nonlocals}  # type: ignore[attr-defined]


def _owner_class(fn: Callable[..., Any]) -> type | None:
    owner_name = fn.__qualname__.rpartition(".")[0]
    owner = fn.__globals__.get(owner_name) if owner_name else None  # type: ignore[attr-defined]
    return owner if isinstance(owner, type) else None


def _resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """What a called name or dotted name refers to; None for values only known at run time."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        if isinstance(base, types.ModuleType | type):
            return getattr(base, node.attr, None)
    return None


def _in_project(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] in PROJECT_PACKAGES


def _is_super_init(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _literal_status_codes(call: ast.Call) -> set[int]:
    """``status_code=503``, or ``status_code=200 if ready else 503``: each literal it can be."""

    def literals(node: ast.expr) -> set[int]:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return {node.value}
        if isinstance(node, ast.IfExp):
            return literals(node.body) | literals(node.orelse)
        return set()

    found: set[int] = set()
    for keyword in call.keywords:
        if keyword.arg == "status_code":
            found |= literals(keyword.value)
    return found


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _refuses_nobody(call: Callable[..., Any]) -> bool:
    """A ``service.deps.require`` check that admits every role never gives its 403."""
    roles = inspect.getclosurevars(call).nonlocals.get("roles")
    return roles is not None and set(roles) == set(Role)


def _can_fail_validation(field: Any) -> bool:
    """A plain ``str`` (or optional ``str``) with no constraint takes anything sent."""
    info = field.field_info
    plain_text = info.annotation in (str, str | None)
    return not plain_text or bool(info.metadata)


class RouteStatuses:
    """Every status one route can answer, derived from the code."""

    def __init__(self, app: FastAPI, method: str, route: Any, reader: StatusReader) -> None:
        self.app, self.method, self.route, self.reader = app, method, route, reader

    @cached_property
    def statuses(self) -> frozenset[int]:
        route = self.route
        found: set[int] = {route.status_code or 200}
        for dependant in _dependants(route.dependant):
            call = dependant.call
            if call is None or not _in_project(call):
                continue
            if _refuses_nobody(call):
                continue
            found |= self.reader.function(call)
        params = [
            field
            for dependant in _dependants(route.dependant)
            for field in (
                *dependant.path_params,
                *dependant.query_params,
                *dependant.header_params,
                *dependant.cookie_params,
            )
        ]
        if any(_can_fail_validation(field) for field in params):
            found.add(422)
        if any(d.call is SESSION_DEPENDENCY for d in _dependants(route.dependant)):
            found.add(DATABASE_UNAVAILABLE)
        if route.body_field is not None and self.method not in HTTP_METHODS_WITHOUT_BODY:
            found |= FRAMEWORK_BODY_STATUSES
            for middleware in self.app.user_middleware:
                if middleware.cls is BodySizeLimit:
                    found |= self.reader.klass(BodySizeLimit)
        response_class = route.response_class
        if isinstance(response_class, type) and issubclass(response_class, FileResponse):
            found.add(RANGE_STATUS)
        return frozenset(found)


def derived_statuses(app: FastAPI) -> tuple[dict[tuple[str, str], frozenset[int]], list[str]]:
    reader = StatusReader()
    derived = {
        (method, route.path): RouteStatuses(app, method, route, reader).statuses
        for method, route in documented_routes(app)
    }
    return derived, reader.unreadable


def documented_statuses(document: dict[str, Any]) -> dict[tuple[str, str], frozenset[int]]:
    return {
        (method.upper(), path): frozenset(int(s) for s in operation["responses"] if s.isdigit())
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_status_a_route_can_answer_is_documented_and_no_other(
    app: FastAPI, document: dict[str, Any]
) -> None:
    derived, unreadable = derived_statuses(app)
    assert not unreadable, f"a Problem's status must be a literal to be checked: {unreadable}"
    documented = documented_statuses(document)
    assert set(documented) == set(derived)
    missing = {
        f"{method} {path}": sorted(derived[method, path] - documented[method, path])
        for method, path in derived
        if derived[method, path] - documented[method, path]
    }
    assert not missing, f"statuses the code can answer but the OpenAPI does not name: {missing}"
    stale = {
        f"{method} {path}": sorted(documented[method, path] - derived[method, path])
        for method, path in derived
        if documented[method, path] - derived[method, path]
    }
    assert not stale, f"statuses the OpenAPI names but no code answers: {stale}"


def test_the_derivation_finds_what_it_should(app: FastAPI) -> None:
    """Guards the reader itself: it must see through dependencies, helpers and subclasses."""
    derived, _ = derived_statuses(app)
    assert derived["POST", "/v1/reminders"] == {202, 400, 401, 403, 409, 413, 422, 429, 503}
    assert derived["DELETE", "/v1/reminders/{reminder_id}"] == {200, 401, 403, 404, 409, 429, 503}
    assert derived["GET", "/v1/reminders/{reminder_id}"] == {200, 401, 404, 429, 503}
    assert derived["GET", "/v1/audio/{token}"] == {200, 206, 400, 403, 410, 416, 503}
    assert derived["GET", "/readyz"] == {200, 503}
    assert derived["GET", "/healthz"] == {200}


def test_every_error_is_a_problem(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status != "default" and int(status) < 400:
                    continue
                if (method.upper(), path, status) in NOT_PROBLEMS:
                    continue
                assert response["content"] == {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}
                }, (method, path, status)
            assert "default" in operation["responses"], (method, path)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "errors"}


def test_protected_operations_name_the_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": "A Tellwell API key"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            open_to_all = path.startswith("/v1/audio/") or not path.startswith("/v1/")
            assert ("security" in operation) is not open_to_all, (method, path)
            if not open_to_all:
                assert "401" in operation["responses"], (method, path)
    create = document["paths"]["/v1/reminders"]["post"]
    (idempotency_key,) = [p for p in create["parameters"] if p["name"] == "idempotency-key"]
    assert idempotency_key["in"] == "header" and "409" in idempotency_key["description"]


def test_only_pages_callbacks_and_the_metrics_scrape_are_left_out(app: FastAPI) -> None:
    left_out = {route.path for route in api_routes(app) if not route.include_in_schema}
    assert left_out, "the console, listen page and Twilio callbacks exist"
    assert all(path.startswith(UNDOCUMENTED_PREFIXES) for path in left_out), left_out
    documented = {route.path for _, route in documented_routes(app)}
    assert not any(path.startswith(UNDOCUMENTED_PREFIXES) for path in documented)


def test_audio_and_readiness_are_described(document: dict[str, Any]) -> None:
    audio = document["paths"]["/v1/audio/{token}"]["get"]
    assert {"audio/mpeg", "audio/wav"} <= set(audio["responses"]["200"]["content"])
    assert "Content-Range" in audio["responses"]["206"]["headers"]
    assert "Range" in {p["name"] for p in audio["parameters"]}
    ready = document["paths"]["/readyz"]["get"]["responses"]
    for status in ("200", "503"):
        assert ready[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Readiness"
        }


def _enum_of(document: dict[str, Any], schema: str, field: str) -> set[str]:
    prop = document["components"]["schemas"][schema]["properties"][field]
    if "items" in prop:
        prop = prop["items"]
    for choice in [prop, *prop.get("anyOf", [])]:
        if "$ref" in choice:
            choice = document["components"]["schemas"][choice["$ref"].rsplit("/", 1)[1]]
        if "enum" in choice:
            return set(choice["enum"])
    raise AssertionError(f"{schema}.{field} is not an enum: {prop}")


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("Accepted", "status"),
        ("ReminderOut", "status"),
        ("ReminderOut", "kind"),
        ("ReminderOut", "channel"),
        ("EventOut", "status"),
        ("AttemptOut", "channel"),
        ("AttemptOut", "outcome"),
        ("AttemptOut", "provider_status"),
        ("MessageOut", "variant"),
        ("MessageOut", "engine"),
        ("PreviewOut", "variant"),
        ("PreviewOut", "engine"),
        ("LanguageOut", "engine"),
        ("LanguageOut", "kinds"),
        ("Readiness", "status"),
    ],
)
def test_closed_sets_are_enums(document: dict[str, Any], schema: str, field: str) -> None:
    assert _enum_of(document, schema, field)


def test_the_enums_match_what_the_code_can_store() -> None:
    """A value outside an enum would make the server's own answer fail validation."""
    reported = NEXT_STATUSES[Status.DISPATCHING] | NEXT_STATUSES[Status.DELIVERED]
    # A staff hand-off or a staff member's mark is never an attempt's outcome.
    by_staff = {Status.NEEDS_STAFF, Status.HANDLED}
    assert set(AttemptOutcome) == set(reported) - by_staff | RETRYABLE_CALL_STATUSES
    channels = {AppChannel.name, OutboxChannel.name, TwilioChannel.name, TwilioSmsChannel.name}
    assert set(DeliveryChannel) == channels
    assert set(TextStatus) == set(TEXT_STATUSES)
    engines = {
        EspeakEngine.name,
        PiperEngine.name,
        Pyttsx3Engine.name,
        GttsEngine.name,
        HttpEngine.name,
        PicoEngine.name,
        RhvoiceEngine.name,
    }
    assert set(EngineName) == engines
