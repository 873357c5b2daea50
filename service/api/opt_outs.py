"""``/v1/opt-outs``: numbers that must never be called, set by a scheduler or an admin.

A patient can also opt out by pressing 8 on a call; only an admin can lift that, with a
reason (``NeverCallList.lift`` says who may lift what). The number travels only in the
request body (never the URL) and is stored, and audited, only as a keyed hash; every dial
checks the list.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.api.responses import AUTH, JSON_BODY, problem, problems
from service.call_policy import API_SOURCE
from service.deps import Scheduler, ServicesDep, SessionDep
from service.models import audit
from service.schemas import OptOutRemoval, OptOutRequest

router = APIRouter(prefix="/v1/opt-outs", tags=["opt-outs"])


@router.post(
    "",
    operation_id="add_opt_out",
    status_code=204,
    responses=problems(*AUTH, *JSON_BODY),
)
def add_opt_out(
    body: OptOutRequest, session: SessionDep, services: ServicesDep, caller: Scheduler
) -> Response:
    """Never call this number again (idempotent)."""
    never_call = services.pipeline.never_call
    never_call.add(session, body.phone, API_SOURCE, caller.id)
    audit(session, caller.id, "opt_out.add", "phone", never_call.phone_hash(body.phone))
    session.commit()
    return Response(status_code=204)


@router.delete(
    "",
    operation_id="remove_opt_out",
    status_code=204,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        specific={
            403: problem(
                403,
                "The patient's own opt-out (by keypad) can be lifted only by an admin key, and "
                "an opt-out set through the API only by the key that set it or an admin.",
            )
        },
    ),
)
def remove_opt_out(
    body: OptOutRemoval, session: SessionDep, services: ServicesDep, caller: Scheduler
) -> Response:
    """The patient asked to be called again (idempotent). 403/422 as ``lift`` decides."""
    never_call = services.pipeline.never_call
    never_call.lift(session, body.phone, caller, body.reason)
    phone_hash = never_call.phone_hash(body.phone)
    audit(session, caller.id, "opt_out.remove", "phone", phone_hash, detail={"reason": body.reason})
    session.commit()
    return Response(status_code=204)
