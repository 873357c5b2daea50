"""Previews warn staff about what the patient would hear differently.

The voice that spoke is not always the language's first choice: an online voice that does
not answer in time is replaced by the offline one. Staff must be told, since the patient
would hear another voice (and staff may want to check the offline one reads the words).
"""

from __future__ import annotations

from pathlib import Path

from service.config import Settings
from service.db import Database
from service.models import Role
from service.schemas import PreviewRequest
from service.security import Caller, issue_key
from tests.support.api import preview_body
from tests.support.voices import online_first_catalog
from voices import GttsEngine, Speaker
from voices.espeak import EspeakEngine
from workers import jobs
from workers.previews import make_preview
from workers.rendering import Renderer

GTTS_TIMEOUT_S = 1.5


def test_a_preview_spoken_by_the_fallback_voice_says_so(
    silent_proxy: str, settings: Settings, tmp_path: Path
) -> None:
    pipeline = jobs.build_pipeline(settings)
    engines = {"gtts": GttsEngine(timeout_s=GTTS_TIMEOUT_S), "espeak": EspeakEngine()}
    pipeline.renderer = Renderer(Speaker(tmp_path / "audio", online_first_catalog(), engines))
    db = Database(settings.sqlalchemy_url)
    with db.session() as session:
        staff = issue_key(session, Role.STAFF, "nurse")
    request = PreviewRequest.model_validate(preview_body(language="es"))
    with db.session() as session:
        preview = make_preview(session, Caller(staff.id, Role.STAFF), request, pipeline)
    db.dispose()
    pipeline.queue.close()
    assert preview.rendered.audio.engine == "espeak"
    assert "Spoken by the fallback engine (espeak), not gtts." in preview.warnings
