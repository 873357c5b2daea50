"""Console sessions: a staff member's API key turned into a signed, short-lived cookie.

The cookie holds no secret and no PHI: the key's id, a CSRF token and two times, signed
with the app's signing key (itsdangerous), so it cannot be forged or altered. A session
ends after ``idle_s`` without a page view (each view renews it) and ``max_s`` after sign-in
whatever happens. Before sign-in the cookie carries only a CSRF token, so the sign-in form
is protected too; signing in issues a fresh token (no session fixation).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "tellwell_console"
COOKIE_PATH = "/console"
SESSION_SALT = "tellwell.console-session"
CSRF_TOKEN_BYTES = 32


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    key_id: str | None = None
    """The signed-in staff member's API key id; None before sign-in."""
    signed_in_at: float = 0.0
    seen_at: float = 0.0

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None

    def csrf_matches(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(self.csrf, submitted)


def _new_csrf() -> str:
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES)


class SessionCodec:
    """Reads and writes the console cookie.

    ``clock`` (seconds since the epoch) is public so a test can let hours pass at once.
    """

    def __init__(
        self,
        secret: str,
        *,
        idle_s: int,
        max_s: int,
        https_only: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SESSION_SALT)
        self.idle_s = idle_s
        self.max_s = max_s
        self._https_only = https_only
        self.clock = clock

    def anonymous(self) -> ConsoleSession:
        return ConsoleSession(csrf=_new_csrf(), seen_at=self.clock())

    def signed_in(self, key_id: str) -> ConsoleSession:
        now = self.clock()
        return ConsoleSession(csrf=_new_csrf(), key_id=key_id, signed_in_at=now, seen_at=now)

    def read(self, request: Request) -> ConsoleSession:
        """The request's live session, or a fresh anonymous one (forged, idle or too old)."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return self.anonymous()
        try:
            data = self._serializer.loads(raw)
            session = ConsoleSession(
                csrf=str(data["c"]),
                key_id=str(data["k"]) if data.get("k") else None,
                signed_in_at=float(data.get("i", 0.0)),
                seen_at=float(data["s"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return self.anonymous()
        now = self.clock()
        if now - session.seen_at > self.idle_s:
            return self.anonymous()
        if session.signed_in and now - session.signed_in_at > self.max_s:
            return self.anonymous()
        return replace(session, seen_at=now)

    def write(self, response: Response, request: Request, session: ConsoleSession) -> None:
        """Set the cookie (renewing the idle time); Secure whenever served over HTTPS."""
        fields = {"c": session.csrf, "k": session.key_id, "i": session.signed_in_at}
        value = self._serializer.dumps({**fields, "s": session.seen_at})
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=self.idle_s,
            path=COOKIE_PATH,
            httponly=True,
            secure=self._https_only or request.url.scheme == "https",
            samesite="strict",
        )
