"""``DELETE /v1/patients``: erase one patient's data (admins only), keeping an audit record.

The patient is named in the body, never the URL (PHI stays out of URLs and logs). Nothing
matching is a normal answer for a data-subject request: 200 with zero counts, which is
also what a repeat answers, so the request is safe to retry.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api.responses import AUTH, JSON_BODY, problems
from service.deps import Admin, ServicesDep, SessionDep
from service.errors import FieldError, ValidationProblem
from service.models import audit
from service.schemas import ErasureOut, PatientErasureRequest
from workers.erasure import erase_patient, patient_ref

router = APIRouter(prefix="/v1/patients", tags=["patients"])


@router.delete(
    "",
    operation_id="erase_patient",
    response_model=ErasureOut,
    responses=problems(*AUTH, *JSON_BODY),
)
def erase(
    body: PatientErasureRequest, caller: Admin, session: SessionDep, services: ServicesDep
) -> ErasureOut:
    """Erase a patient's reminders' personal data by phone number or external id."""
    if (body.phone is None) == (body.external_id is None):
        message = "send exactly one of phone and external_id"
        raise ValidationProblem([FieldError("phone", message), FieldError("external_id", message)])
    settings = services.settings
    erasure = erase_patient(
        session,
        settings,
        services.pipeline.clock.now(),
        phone=body.phone,
        external_id=body.external_id,
    )
    subject = patient_ref(settings, phone=body.phone, external_id=body.external_id)
    by = "phone" if body.phone is not None else "external_id"
    audit(session, caller.id, "patient.erase", "patient", subject, {"by": by, **erasure.counts()})
    session.commit()
    erasure.remove_files(services.pipeline.audio_store)
    return ErasureOut(**erasure.counts())
