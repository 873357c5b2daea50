"""Audio retention: a rendered message is PHI, kept only while it may still be played.

``purge_audio`` deletes cached audio not used for a while (a cache hit renews a file's
time) unless a reminder still on its way needs it, and marks the purged records, so
their links answer 410 Gone. Whatever is needed again is simply spoken again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from service.db import Database, utcnow
from service.models import AudioAsset, Reminder, Status

IN_FLIGHT = (Status.SCHEDULED, Status.RENDERING, Status.READY, Status.DISPATCHING)


@dataclass(frozen=True)
class PurgeReport:
    files_removed: int
    records_marked: int


def purge_audio(
    db: Database, audio_dir: Path, unused_for: timedelta, now: datetime | None = None
) -> PurgeReport:
    now = now or utcnow()
    cutoff = (now - unused_for).timestamp()
    with db.session() as session:
        needed_keys = {
            key
            for row in session.execute(
                select(Reminder.audio_key, Reminder.voicemail_audio_key).where(
                    Reminder.status.in_(IN_FLIGHT)
                )
            )
            for key in row
            if key
        }
    removed = 0
    for path in sorted(audio_dir.rglob("*")):
        if path.is_file() and path.stem not in needed_keys and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    with db.session() as session:
        live = session.scalars(select(AudioAsset).where(AudioAsset.purged_at.is_(None))).all()
        gone = [(a.key, a.format) for a in live if not Path(a.path).exists()]
        for key, fmt in gone:
            session.execute(
                update(AudioAsset)
                .where(AudioAsset.key == key, AudioAsset.format == fmt)
                .values(purged_at=now)
            )
    return PurgeReport(files_removed=removed, records_marked=len(gone))
