"""FHIR benchmark: transaction Bundles per second through ``POST /fhir/r4``.

Each Bundle is what an EHR sends for one visit: a Patient, a Practitioner, a Location
naming the clinic and the Appointment (``urn:uuid`` references resolved inside the Bundle),
stored in one transaction, two reminders planned. Served by a real ``tellwell serve``
process against PostgreSQL; the same run measures ``PUT /v1/appointments`` with the same
visits (the JSON way in), so the figure is also a ratio: what FHIR parsing, validation
with the R4B models and keeping the resources cost on top of the appointment upsert.

    .venv/bin/python bench/fhir.py [--requests 500] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.appointments import (  # noqa: E402
    CLINIC,
    Request,
    appointment,
    fresh_database,
    load,
    report,
    visit_start,
)
from bench.ingest import median_round  # noqa: E402
from bench.support import database_url, drop_database, http_server  # noqa: E402
from devtools.ports import free_port  # noqa: E402

BENCH_DB = "fhir"
DATABASE_URL = database_url(BENCH_DB)
WARMUP_REQUESTS = 100
LOCATION_IDENTIFIER = "urn:oid:2.16.840.1.113883.19|RIVERSIDE"


def bundle(n: int, version: int = 1, moved: bool = False) -> dict[str, Any]:
    """One visit as a transaction Bundle."""
    start = visit_start(n, moved).isoformat()
    patient, doctor, place = (f"urn:uuid:00000000-0000-4000-8000-{n:06d}00000{i}" for i in "123")
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient,
                "resource": {
                    "resourceType": "Patient",
                    "id": f"p-{n}",
                    "meta": {"versionId": str(version)},
                    "name": [{"family": "López", "given": ["María"]}],
                    "telecom": [{"system": "phone", "value": "(312) 555-0123", "use": "mobile"}],
                    "communication": [{"language": {"coding": [{"code": "es"}]}}],
                },
                "request": {"method": "PUT", "url": f"Patient/p-{n}"},
            },
            {
                "fullUrl": doctor,
                "resource": {"resourceType": "Practitioner", "name": [{"text": "Dr. Chen"}]},
                "request": {"method": "POST", "url": "Practitioner"},
            },
            {
                "fullUrl": place,
                "resource": {
                    "resourceType": "Location",
                    "name": "Second floor, suite 210",
                    "identifier": [
                        {"system": "urn:oid:2.16.840.1.113883.19", "value": "RIVERSIDE"}
                    ],
                },
                "request": {"method": "POST", "url": "Location"},
            },
            {
                "resource": {
                    "resourceType": "Appointment",
                    "id": f"a-{n}",
                    "meta": {"versionId": str(version)},
                    "status": "booked",
                    "start": start,
                    "participant": [
                        {"actor": {"reference": ref}, "status": "accepted"}
                        for ref in (patient, doctor, place)
                    ],
                },
                "request": {"method": "PUT", "url": f"Appointment/a-{n}"},
            },
        ],
    }


def figures(key: str, total: int, rounds: int, concurrency: int) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    port = free_port()
    command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
    with (
        tempfile.TemporaryDirectory() as data_dir,
        http_server(
            command,
            {
                "TELLWELL_DATABASE_URL": DATABASE_URL,
                "TELLWELL_REDIS_URL": "",
                "TELLWELL_DATA_DIR": data_dir,
                "TELLWELL_SECRET_KEY": "bench",
            },
            port,
        ) as tellwell,
    ):

        def json_put(offset: int) -> Request:
            def put(client: httpx.Client, n: int) -> httpx.Response:
                path = f"/v1/appointments/riverside/json-{offset + n}"
                return client.put(path, json=appointment(n), headers=auth)

            return put

        def fhir_post(offset: int, version: int, moved: bool) -> Request:
            def post(client: httpx.Client, n: int) -> httpx.Response:
                return client.post(
                    "/fhir/r4", json=bundle(offset + n, version, moved), headers=auth
                )

            return post

        load(tellwell.url, json_put(10**6), 201, WARMUP_REQUESTS, concurrency)
        load(tellwell.url, fhir_post(10**6, 1, False), 200, WARMUP_REQUESTS, concurrency)
        seen: dict[str, list[dict[str, float]]] = {"json": [], "create": [], "move": []}
        for round_number in range(rounds):  # interleaved, so drift hits all alike
            offset = round_number * total
            seen["json"].append(load(tellwell.url, json_put(offset), 201, total, concurrency))
            create = fhir_post(offset, 1, False)
            seen["create"].append(load(tellwell.url, create, 200, total, concurrency))
            move = fhir_post(offset, 2, True)
            seen["move"].append(load(tellwell.url, move, 200, total, concurrency))
    json_median = median_round(seen["json"])
    create_median = median_round(seen["create"])
    move_median = median_round(seen["move"])
    report("PUT /v1/appointments, created", json_median)
    report("FHIR transaction Bundle, created", create_median)
    report("FHIR transaction Bundle, moved", move_median)
    print(f"ratio FHIR create / JSON create: {create_median['rps'] / json_median['rps']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="per round and phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    key = fresh_database(BENCH_DB, {**CLINIC, "identifiers": [LOCATION_IDENTIFIER]})
    print(
        f"{args.rounds} rounds of {args.requests} requests per phase, {args.concurrency} "
        "client threads, one server process; medians of the rounds"
    )
    figures(key, args.requests, args.rounds, args.concurrency)
    drop_database(BENCH_DB)


if __name__ == "__main__":
    main()
