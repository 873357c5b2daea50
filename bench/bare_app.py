"""The baseline for ``bench/ingest.py``: a bare FastAPI endpoint doing one INSERT.

Same framework, server, driver and database as Tellwell, and nothing else: no auth, no
validation, no queue. Tellwell's ingest throughput is reported as a ratio to this.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import JSON, Column, MetaData, String, Table, create_engine, insert

from service.db import POOL_MAX_OVERFLOW, POOL_SIZE

metadata = MetaData()
rows = Table(
    "bench_rows", metadata, Column("id", String(32), primary_key=True), Column("body", JSON)
)
engine = create_engine(
    os.environ["BENCH_DATABASE_URL"], pool_size=POOL_SIZE, max_overflow=POOL_MAX_OVERFLOW
)
metadata.create_all(engine)
app = FastAPI()


@app.post("/insert", status_code=202)
def insert_one(body: dict[str, Any]) -> dict[str, str]:
    row_id = uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(insert(rows).values(id=row_id, body=body))
    return {"id": row_id}
