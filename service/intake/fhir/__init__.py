"""FHIR R4 intake: a small FHIR server at ``/fhir/r4`` (a face; the contract is docs/fhir.md).

Resources are validated with ``fhir.resources``' R4B models, mapped to the appointments of
``service.appointments`` (which plan the reminders) and kept as sent (``service.fhir_store``).
"""
