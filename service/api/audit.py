"""``GET /v1/audit``: the audit log, for admins: filtered by actor, action, subject and time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.responses import AUTH, problems
from service.audit_log import AuditFilters, list_audit
from service.deps import Admin, SessionDep
from service.paging import CURSOR_MAX_CHARS
from service.reminders import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from service.schemas import AuditEntryOut, AuditPage, Moment, Text

router = APIRouter(prefix="/v1/audit", tags=["audit"])

FILTER_MAX_CHARS = 64


@router.get("", operation_id="list_audit", response_model=AuditPage, responses=problems(*AUTH, 422))
def read_audit_log(
    caller: Admin,
    session: SessionDep,
    actor: Annotated[
        Text | None, Query(max_length=FILTER_MAX_CHARS, description="a key id")
    ] = None,
    action: Annotated[Text | None, Query(max_length=FILTER_MAX_CHARS)] = None,
    subject_type: Annotated[Text | None, Query(max_length=FILTER_MAX_CHARS)] = None,
    subject_id: Annotated[Text | None, Query(max_length=FILTER_MAX_CHARS)] = None,
    since: Annotated[Moment | None, Query(description="inclusive")] = None,
    until: Annotated[Moment | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
) -> AuditPage:
    filters = AuditFilters(actor, action, subject_type, subject_id, since, until)
    page = list_audit(session, filters, limit=limit, cursor=cursor)
    return AuditPage(
        items=[
            AuditEntryOut(
                id=row.entry.id,
                at=row.entry.at,
                actor_key_id=row.entry.actor_key_id,
                actor_name=row.actor_name,
                action=row.entry.action,
                subject_type=row.entry.subject_type,
                subject_id=row.entry.subject_id,
                detail=row.entry.detail,
            )
            for row in page.items
        ],
        next_cursor=page.next_cursor,
    )
