"""The CapabilityStatement: exactly what ``/fhir/r4`` supports (docs/fhir.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

FHIR_VERSION = "4.0.1"
PUBLISHED = "2026-12-02"
REFERENCE_ONLY = (
    "Accepted only inside a transaction Bundle, to resolve an Appointment's references "
    "(provider's name, location, clinic); not stored."
)
COUNT = {
    "name": "_count",
    "type": "number",
    "documentation": "The most matches on a page: 1 to 100 (more is taken as 100); the "
    "Bundle's next link (with an opaque _cursor) gives the rest.",
}
"""Every search pages (docs/fhir.md, "Paging"), so every searchable type lists it."""


@cache
def capability_statement() -> dict[str, Any]:
    """Validated by the model once; the same document every time."""
    document: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "Tellwell",
        "kind": "instance",
        "software": {"name": "Tellwell"},
        "implementation": {"description": "Tellwell FHIR R4 intake: appointments to remind of"},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Bearer API keys: scheduler and admin keys write, every key "
                "reads; a scheduler key sees what it stored, in the clinics it may use.",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "OAuth",
                                }
                            ],
                            "text": "Bearer API key",
                        }
                    ]
                },
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [{"code": "read"}, {"code": "update"}],
                        "versioning": "no-version",
                        "updateCreate": True,
                    },
                    {
                        "type": "Appointment",
                        "interaction": [
                            {"code": "read"},
                            {"code": "update"},
                            {"code": "search-type"},
                        ],
                        "versioning": "no-version",
                        "updateCreate": True,
                        "searchParam": [
                            {"name": "identifier", "type": "token"},
                            {"name": "patient", "type": "reference"},
                            {"name": "date", "type": "date"},
                            {"name": "status", "type": "token"},
                            COUNT,
                        ],
                    },
                    {
                        "type": "CommunicationRequest",
                        "documentation": "One message about a stored Appointment (about), "
                        "to its Patient (recipient), at occurrenceDateTime (else now), by "
                        "medium PHONE or ELECTRONIC (the app); status active.",
                        "interaction": [{"code": "create"}],
                    },
                    {
                        "type": "Communication",
                        "documentation": "Each reminder of a stored Appointment: where it "
                        "stands (completed, not-done with a statusReason, preparation, "
                        "in-progress), sent, received, the transcript as payload.",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [
                            {"name": "about", "type": "reference"},
                            {"name": "patient", "type": "reference"},
                            {"name": "_lastUpdated", "type": "date"},
                            COUNT,
                        ],
                    },
                    {
                        "type": "AppointmentResponse",
                        "documentation": "A keypress on a reminder call: confirm (accepted) "
                        "or cancel (declined); its id is the reminder's.",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [
                            {"name": "appointment", "type": "reference"},
                            {"name": "patient", "type": "reference"},
                            {"name": "_lastUpdated", "type": "date"},
                            COUNT,
                        ],
                    },
                    *(
                        {"type": name, "documentation": REFERENCE_ONLY}
                        for name in ("Practitioner", "Location", "Organization")
                    ),
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
    CapabilityStatement.model_validate(document)
    return document
