"""The reminders API as a scheduling system calls it: its keys, its request bodies, its rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from devtools.timezones import daytime_zone
from service.db import Database
from service.models import Reminder, Role
from service.security import issue_key

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
"""The one format every moment is answered and sent in: RFC 3339, UTC, whole seconds, Z."""


@dataclass
class Keys:
    admin: str
    staff: str
    scheduler: str
    other_scheduler: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def make_keys(database_url: str) -> Keys:
    db = Database(database_url)
    with db.session() as session:
        keys = Keys(
            admin=issue_key(session, Role.ADMIN, "admin").raw,
            staff=issue_key(session, Role.STAFF, "nurse").raw,
            scheduler=issue_key(session, Role.SCHEDULER, "epic").raw,
            other_scheduler=issue_key(session, Role.SCHEDULER, "cerner").raw,
        )
    db.dispose()
    return keys


ANSWER_WITHIN_S = 30.0
"""How long a test waits for a live server's answer (``LiveServer``). httpx's 5 s default
is shorter than a scheduling system would wait, and on a 2-core CI machine busy with
three test processes, Chromium, worker processes and voices it was twice not enough for
a request that takes a tenth of a second when quiet (a phone test's, then the worklist
page test's first POST); the tests check what the answer says, benches measure how fast
it comes."""


@dataclass
class LiveServer:
    url: str

    def client(self, key: str | None = None) -> httpx.Client:
        """A client of this server (with ``key``'s bearer header), waiting up to
        ``ANSWER_WITHIN_S`` for each answer."""
        headers = Keys.header(key) if key else None
        return httpx.Client(base_url=self.url, headers=headers, timeout=ANSWER_WITHIN_S)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; ``url`` is a path on this server or a whole address (a link it
        gave out), waiting up to ``ANSWER_WITHIN_S``."""
        with self.client() as http:
            return http.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def reminder_body(**changes: Any) -> dict[str, Any]:
    """A valid reminder request, as a scheduling system would send it."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    body: dict[str, Any] = {
        "kind": "appointment_reminder",
        "channel": "phone",
        "language": "es",
        "patient": {
            "name": "María López",
            "phone": "+13125550123",
            "timezone": daytime_zone(),
            "speech_rate": "normal",
        },
        "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
        "appointment": {
            "start": start.isoformat(),
            "provider": "Dr. Chen",
            "location": "Second floor, suite 210",
            "instructions": "Bring your medicine list.",
        },
        "external_id": "appt-88123",
    }
    body.update(changes)
    return body


def preview_body(**changes: Any) -> dict[str, Any]:
    body = reminder_body(**changes)
    del body["external_id"]
    del body["patient"]["phone"]  # a preview needs no phone number
    return body


def count_reminders(database_url: str) -> int:
    db = Database(database_url)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Reminder)) or 0
    db.dispose()
    return total
