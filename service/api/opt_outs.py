"""``/v1/opt-outs``: numbers that must never be called, set by a scheduler or an admin.

A patient can also opt out by pressing 8 on a call. The number travels only in the
request body (never the URL) and is stored only as a hash; every dial checks the list.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.api.responses import AUTH, JSON_BODY, problems
from service.call_policy import opt_in, opt_out, phone_hash
from service.deps import Scheduler, SessionDep
from service.models import audit
from service.schemas import OptOutRequest

router = APIRouter(prefix="/v1/opt-outs", tags=["opt-outs"])


@router.post(
    "",
    operation_id="add_opt_out",
    status_code=204,
    responses=problems(*AUTH, *JSON_BODY),
)
def add_opt_out(body: OptOutRequest, session: SessionDep, caller: Scheduler) -> Response:
    """Never call this number again (idempotent)."""
    opt_out(session, body.phone, "api")
    audit(session, caller.id, "opt_out.add", "phone", phone_hash(body.phone))
    session.commit()
    return Response(status_code=204)


@router.delete(
    "",
    operation_id="remove_opt_out",
    status_code=204,
    responses=problems(*AUTH, *JSON_BODY),
)
def remove_opt_out(body: OptOutRequest, session: SessionDep, caller: Scheduler) -> Response:
    """The patient asked to be called again (idempotent)."""
    opt_in(session, body.phone)
    audit(session, caller.id, "opt_out.remove", "phone", phone_hash(body.phone))
    session.commit()
    return Response(status_code=204)
