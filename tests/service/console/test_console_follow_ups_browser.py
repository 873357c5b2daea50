"""A clinic's follow-up answers per week in real Chromium, reached by keyboard from the
clinic's page: counts and the mean score, no patient's name; axe-core finds nothing
blocking. The answers are stored as the call's answer leaves them
(tests/workers/test_follow_up_calls.py drives real calls to the same columns)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from devtools.browser import axe_violations, blocking
from service.db import Database
from service.models import ApiKey, Reminder, Status
from tests.support.api import Keys, LiveServer
from tests.support.clinics import add_clinic

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PATIENT_NAME = "María López"


def store_answers(database_url: str, answers: list[tuple[str, str | None, Status]]) -> None:
    """Follow-ups of the clinic "riverside" sent an hour ago: (question, answer, status)."""
    db = Database(database_url)
    sent = datetime.now(UTC) - timedelta(hours=1)
    with db.session() as session:
        owner = session.scalars(select(ApiKey.id)).first()
        assert owner is not None
        for question, answer, status in answers:
            flagged = answer in ("1", "2", "no") if answer else None
            session.add(
                Reminder(
                    owner_key_id=owner,
                    kind="follow_up",
                    channel="phone",
                    language="en",
                    status=status,
                    send_at=sent,
                    facts={"patient": {"name": PATIENT_NAME}, "follow_up": {"question": question}},
                    clinic_id="riverside",
                    follow_up_question=question,
                    follow_up_answer=answer,
                    follow_up_answered_at=sent if answer else None,
                    follow_up_needs_staff=flagged,
                )
            )
        session.commit()
    db.dispose()


def test_staff_read_a_clinics_follow_up_answers_by_week(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    with live_server.client() as http:
        add_clinic(http, keys.admin, timezone="UTC")
    store_answers(
        database_url,
        [
            ("visit_rating", "5", Status.CONFIRMED),
            ("visit_rating", "4", Status.CONFIRMED),
            ("visit_rating", "1", Status.NEEDS_STAFF),
            ("visit_rating", None, Status.DELIVERED),
            ("visit_rating", None, Status.CANCELLED),  # never went out: not counted
            ("resolved", "no", Status.HANDLED),
        ],
    )
    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.staff)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")
    page.goto(f"{live_server.url}/console/clinics/riverside")
    page.get_by_role("link", name="Follow-up answers by week").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up answers: Riverside Clinic")
    table = page.get_by_role("table", name="Follow-up answers per week, newest first")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(3)  # the header, then one row per question
    week = datetime.now(UTC) - timedelta(hours=1)
    year, number, _ = week.isocalendar()
    rating = rows.filter(has_text="How was your visit?")
    expect(rating.get_by_role("rowheader")).to_have_text(f"{year}-W{number:02d}")
    expect(rating.get_by_role("cell")).to_have_text(
        [
            "How was your visit? (1 poor to 5 very good)",
            "4",
            "3",
            "1: 1, 2: 0, 3: 0, 4: 1, 5: 1",
            "3.33 of 5",
            "1",
        ]
    )
    expect(rating.get_by_role("meter")).to_have_attribute("value", "3.33")
    resolved = rows.filter(has_text="Did we solve your problem?")
    expect(resolved.get_by_role("cell").nth(3)).to_have_text("yes: 0, no: 1")
    expect(resolved.get_by_role("cell").nth(4)).to_have_text("not scored")
    expect(resolved.get_by_role("cell").nth(5)).to_have_text("1")
    assert PATIENT_NAME not in page.content()
    violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)
