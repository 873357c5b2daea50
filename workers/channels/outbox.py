"""The outbox channel: deliveries recorded as files instead of sent.

The default until a provider is configured, so a new install shows the whole flow without
credentials. One JSON file per attempt, named by the attempt id (never by anything about
the patient), written atomically so a crash leaves either the whole record or none.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from service.models import Status
from workers.channels.base import Delivery, Outcome


class OutboxChannel:
    name = "outbox"

    def __init__(self, directory: Path, name: str = "outbox") -> None:
        self.name = name
        """``sms`` for the texts it records, so an attempt says what it would have been."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def record_path(self, attempt_id: str) -> Path:
        return self.directory / f"{attempt_id}.json"

    def send(self, delivery: Delivery) -> Outcome:
        record = asdict(delivery) | {"audio_path": str(delivery.audio_path)}
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, ensure_ascii=False, indent=2)
        os.replace(tmp, self.record_path(delivery.attempt_id))
        return Outcome(status=Status.DELIVERED, provider_ref=delivery.attempt_id)

    def reconcile(self, attempt_id: str) -> Outcome | None:
        if self.record_path(attempt_id).exists():
            return Outcome(status=Status.DELIVERED, provider_ref=attempt_id)
        return None

    def read(self, attempt_id: str) -> dict[str, object]:
        """The recorded delivery, as staff or a test would inspect it."""
        return dict(json.loads(self.record_path(attempt_id).read_text()))
