"""API keys: issued once, stored hashed, remembered briefly.

Keys are random 256-bit secrets, so a plain SHA-256 of the key is a safe thing to store
and look up by (a slow password hash protects guessable secrets, which these are not).
Signed links live in ``service.links``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import utcnow
from service.models import ApiKey, Role

KEY_PREFIX = "tw_"
KEY_SECRET_BYTES = 32
KEY_CACHE_TTL_S = 10.0
KEY_CACHE_MAX_ENTRIES = 10_000


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    id: str
    role: Role
    raw: str
    """Shown once to whoever asked for it; only its hash is kept."""


def issue_key(
    session: Session, role: Role, name: str = "", clinic_ids: list[str] | None = None
) -> IssuedKey:
    """A new key; ``clinic_ids`` limits a scheduler key to those clinics (None: any)."""
    secret = secrets.token_urlsafe(KEY_SECRET_BYTES)
    raw = f"{KEY_PREFIX}{secret}"
    row = ApiKey(
        name=name or role.value,
        role=role,
        prefix=raw[:10],
        key_hash=hash_key(raw),
        clinic_ids=clinic_ids,
    )
    session.add(row)
    session.flush()
    return IssuedKey(id=row.id, role=role, raw=raw)


@dataclass(frozen=True)
class Caller:
    """Who is calling: enough to authorise and audit, detached from any session."""

    id: str
    role: Role
    clinic_ids: frozenset[str] | None = None
    """A scheduler key limited to these clinics; None: no limit."""

    def may_use_clinic(self, clinic_id: str) -> bool:
        return self.clinic_ids is None or clinic_id in self.clinic_ids


def caller_for_key(key: ApiKey) -> Caller:
    clinics = frozenset(key.clinic_ids) if key.clinic_ids is not None else None
    return Caller(id=key.id, role=Role(key.role), clinic_ids=clinics)


def find_key(session: Session, raw_key: str) -> Caller | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw_key)))
    if row is None or (row.revoked_at is not None and row.revoked_at <= utcnow()):
        return None
    return caller_for_key(row)


class KeyRing:
    """Remembers valid keys for a few seconds, so a busy scheduler costs no lookup per call.

    A revoked key keeps working for at most ``ttl_s`` in a process that saw it recently;
    unknown keys are never remembered, so a wrong key is always checked afresh.
    """

    def __init__(
        self, ttl_s: float = KEY_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def recall(self, raw_key: str) -> Caller | None:
        """The caller behind a key seen within ``ttl_s``; touches no database."""
        with self._lock:
            known = self._known.get(hash_key(raw_key))
        if known is not None and self._clock() - known[1] < self.ttl_s:
            return known[0]
        return None

    def find(self, session: Session, raw_key: str) -> Caller | None:
        """The caller behind a key, from memory or else from the database."""
        if (caller := self.recall(raw_key)) is not None:
            return caller
        digest = hash_key(raw_key)
        now = self._clock()
        caller = find_key(session, raw_key)
        with self._lock:
            if caller is None:
                self._known.pop(digest, None)
            else:
                if len(self._known) >= KEY_CACHE_MAX_ENTRIES:
                    self._known.clear()
                self._known[digest] = (caller, now)
        return caller
