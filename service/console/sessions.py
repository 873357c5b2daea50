"""Console sessions: kept on the server, named by a random token in a signed cookie.

A staff member signs in with an API key; the server writes a session row and the browser
gets a cookie holding only that row's token and a CSRF token (no secret, no PHI), signed
with the app's signing key (itsdangerous) so it cannot be forged or altered. The row, not
the cookie, decides whether the session is alive: every request checks it, so sign-out,
``idle_s`` without a page view (each view renews it), ``max_s`` after sign-in, and a
revoked key each end it on the server, and a copy of the cookie saved earlier opens
nothing afterwards. The row is found by the token's SHA-256, so the table alone cannot be
turned back into cookies.

Before sign-in the cookie carries only a CSRF token, so the sign-in form is protected
too; signing in issues a fresh token and a new session (no session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from service.clock import Clock
from service.models import ApiKey, Role, StaffSession
from service.security import Caller, caller_for_key

COOKIE_NAME = "tellwell_console"
COOKIE_PATH = "/console"
SESSION_SALT = "tellwell.console-session"
CSRF_TOKEN_BYTES = 32
SESSION_TOKEN_BYTES = 32
CONSOLE_ROLES = frozenset({Role.STAFF, Role.REVIEWER, Role.ADMIN})

SIGNED_OUT = "sign_out"
IDLE = "idle"
TOO_OLD = "max_age"
KEY_REVOKED = "key_revoked"
"""Why a session ended, as ``console_sessions.end_reason`` records it."""


@dataclass(frozen=True)
class ConsoleSession:
    """What the cookie carries."""

    csrf: str
    token: str | None = None
    """The server-side session's token; None before sign-in."""

    def csrf_matches(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(self.csrf, submitted)


def _new_csrf() -> str:
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES)


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCodec:
    """Reads and writes the console cookie; says nothing about whether a session lives."""

    def __init__(self, secret: str, *, idle_s: int, https_only: bool) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SESSION_SALT)
        self.idle_s = idle_s
        self._https_only = https_only

    def anonymous(self) -> ConsoleSession:
        return ConsoleSession(csrf=_new_csrf())

    def signed_in(self, token: str) -> ConsoleSession:
        return ConsoleSession(csrf=_new_csrf(), token=token)

    def read(self, request: Request) -> ConsoleSession:
        """The cookie's session, or a fresh anonymous one (none, forged or malformed)."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return self.anonymous()
        try:
            data = self._serializer.loads(raw)
            return ConsoleSession(csrf=str(data["c"]), token=str(data["t"]) if data["t"] else None)
        except (BadSignature, KeyError, TypeError, ValueError):
            return self.anonymous()

    def write(self, response: Response, request: Request, session: ConsoleSession) -> None:
        """Set the cookie (the browser drops it once idle); Secure whenever served over HTTPS."""
        value = self._serializer.dumps({"c": session.csrf, "t": session.token})
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=self.idle_s,
            path=COOKIE_PATH,
            httponly=True,
            secure=self._https_only or request.url.scheme == "https",
            samesite="strict",
        )


class SessionStore:
    """The server-side session rows: start, resume (checking every limit) and end."""

    def __init__(self, clock: Clock, *, idle_s: int, max_s: int) -> None:
        self.clock = clock
        self.idle = timedelta(seconds=idle_s)
        self.max_age = timedelta(seconds=max_s)

    def start(self, db: Session, key_id: str) -> str:
        """A new session for ``key_id``; returns the token for the cookie."""
        token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
        now = self.clock.now()
        db.add(StaffSession(id=_session_id(token), key_id=key_id, created_at=now, last_seen_at=now))
        return token

    def resume(self, db: Session, token: str) -> Caller | None:
        """The signed-in staff member if the session still lives (and now renewed).

        A session past a limit, or whose key was revoked, is ended here and None returned.
        """
        row = db.get(StaffSession, _session_id(token))
        if row is None or row.ended_at is not None:
            return None
        now = self.clock.now()
        key = db.get(ApiKey, row.key_id)
        reason = self._end_reason(row, key, now)
        if key is None or reason is not None:
            row.ended_at, row.end_reason = now, reason or KEY_REVOKED
            db.commit()
            return None
        row.last_seen_at = now
        db.commit()
        return caller_for_key(key)

    def _end_reason(self, row: StaffSession, key: ApiKey | None, now: datetime) -> str | None:
        if key is None or key.role not in CONSOLE_ROLES:
            return KEY_REVOKED
        if key.revoked_at is not None and key.revoked_at <= now:
            return KEY_REVOKED
        if now - row.last_seen_at > self.idle:
            return IDLE
        if now - row.created_at > self.max_age:
            return TOO_OLD
        return None

    def end(self, db: Session, token: str, reason: str = SIGNED_OUT) -> None:
        """End one session now, whatever cookie a browser still holds."""
        db.execute(
            update(StaffSession)
            .where(StaffSession.id == _session_id(token), StaffSession.ended_at.is_(None))
            .values(ended_at=self.clock.now(), end_reason=reason)
        )
