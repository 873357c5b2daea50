"""FastAPI dependencies as ``Annotated`` aliases: what a route needs, by name.

The long-lived parts come as one ``Services`` object: every dependency costs FastAPI work
on every request. Dependencies are ``async`` so FastAPI runs them inline rather than
handing each to the thread pool; the database I/O among them is sent to the pool only
when it happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service.config import Settings
from service.db import Database
from service.errors import Problem
from service.links import Links
from service.metrics import RATE_LIMITED
from service.models import Role
from service.rate_limits import RateLimiter, retry_after_s
from service.security import Caller, KeyRing
from workers.pipeline import Pipeline


@dataclass(frozen=True)
class Services:
    """The process's long-lived parts, made once in the app's lifespan."""

    settings: Settings
    db: Database
    pipeline: Pipeline
    key_ring: KeyRing
    rate_limiter: RateLimiter

    @property
    def links(self) -> Links:
        """The one link builder, shared with the pipeline's channels."""
        return self.pipeline.links


async def _services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]


async def _session(services: ServicesDep) -> AsyncIterator[Session]:
    """One session per request, shared by auth and the route.

    A route whose answer promises something durable commits before it answers; what is
    left open is committed here, and an error rolls everything back. Making a session
    touches no database, so only the closing I/O goes to the thread pool, and only when
    a transaction is still open.
    """
    session = services.db.sessions()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    else:
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_session)]

_bearer = HTTPBearer(auto_error=False, description="A Tellwell API key")


async def _caller(
    session: SessionDep,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise Problem(
            401,
            "Unauthorized",
            "Send an API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raw_key = credentials.credentials
    key_ring = services.key_ring
    key = key_ring.recall(raw_key) or await run_in_threadpool(key_ring.find, session, raw_key)
    if key is None:
        raise Problem(
            401,
            "Unauthorized",
            "This API key is not valid.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limiter = services.rate_limiter
    if wait_s := await limiter.wait_s(key.id):
        RATE_LIMITED.inc()
        retry_after = retry_after_s(wait_s)
        raise Problem(
            429,
            "Too many requests",
            f"This API key may make {limiter.limit.describe()}; retry in {retry_after} s.",
            slug="rate-limited",
            headers={"Retry-After": str(retry_after)},
        )
    return key


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits only callers holding one of ``roles``."""

    async def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if caller.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise Problem(403, "Forbidden", f"This needs a key with role {allowed}.")
        return caller

    return check


AnyCaller = Annotated[
    Caller, Depends(require(Role.SCHEDULER, Role.STAFF, Role.REVIEWER, Role.ADMIN))
]
Scheduler = Annotated[Caller, Depends(require(Role.SCHEDULER, Role.ADMIN))]
Staff = Annotated[Caller, Depends(require(Role.STAFF, Role.REVIEWER, Role.ADMIN))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER, Role.ADMIN))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
