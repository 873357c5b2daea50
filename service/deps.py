"""FastAPI dependencies as ``Annotated`` aliases: what a route needs, by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database
from service.errors import Problem
from service.models import ApiKey, Role
from service.reminders import LinkBuilder
from service.security import AudioLinks, find_key
from workers.pipeline import Pipeline


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _database(request: Request) -> Database:
    return request.app.state.db


def _pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


def _audio_links(request: Request) -> AudioLinks:
    return request.app.state.audio_links


def _links(request: Request) -> LinkBuilder:
    return request.app.state.links


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]
AudioLinksDep = Annotated[AudioLinks, Depends(_audio_links)]
LinksDep = Annotated[LinkBuilder, Depends(_links)]


def _session(db: DatabaseDep) -> Iterator[Session]:
    """One session per request, shared by auth and the route.

    A route whose answer promises something durable commits before it answers; what is
    left open is committed here, and an error rolls everything back.
    """
    with db.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(_session)]

_bearer = HTTPBearer(auto_error=False, description="A Tellwell API key")


def _caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    if credentials is None:
        raise Problem(
            401,
            "Unauthorized",
            "Send an API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = find_key(session, credentials.credentials)
    if key is None:
        raise Problem(
            401,
            "Unauthorized",
            "This API key is not valid.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def require(*roles: Role) -> Callable[..., ApiKey]:
    """A dependency that admits only callers holding one of ``roles``."""

    def check(caller: Annotated[ApiKey, Depends(_caller)]) -> ApiKey:
        if caller.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise Problem(403, "Forbidden", f"This needs a key with role {allowed}.")
        return caller

    return check


AnyCaller = Annotated[ApiKey, Depends(require(Role.SCHEDULER, Role.STAFF, Role.ADMIN))]
Scheduler = Annotated[ApiKey, Depends(require(Role.SCHEDULER, Role.ADMIN))]
Staff = Annotated[ApiKey, Depends(require(Role.STAFF, Role.ADMIN))]
