"""Audio retention: a rendered message is PHI, kept only while it may still be played.

``purge_audio`` deletes cached audio not used for a while (a cache hit renews a file's
time) unless a reminder still on its way needs it, and marks the purged records, so
their links answer 410 Gone. Whatever is needed again is simply spoken again.

``purge_audio_daily`` is what the sweeper calls on every sweep: it runs the purge at most
once per UTC day across every sweeper sharing the database, by claiming the day's row in
``daily_runs`` first (``tellwell purge-audio`` still runs it by hand at any time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.audio_store import AudioStore, LocalAudioStore
from service.config import Settings
from service.db import Database, utcnow
from service.models import REMINDER_AUDIO, AudioAsset, DailyRun, Reminder, Status

IN_FLIGHT = (Status.SCHEDULED, Status.RENDERING, Status.READY, Status.DISPATCHING)
AUDIO_PURGE_TASK = "audio_purge"


@dataclass(frozen=True)
class PurgeReport:
    files_removed: int
    records_marked: int


def purge_audio(
    db: Database,
    audio_dir: Path,
    unused_for: timedelta,
    now: datetime | None = None,
    store: AudioStore | None = None,
) -> PurgeReport:
    """Sweep this machine's speech cache (``audio_dir``) and the audio ``store`` (the
    cache's own files when None, as with ``TELLWELL_AUDIO_STORE=local``)."""
    now = now or utcnow()
    store = store or LocalAudioStore(audio_dir)
    cutoff = (now - unused_for).timestamp()
    with db.session() as session:
        needed_keys = {
            key
            for row in session.execute(
                select(*(key_column for key_column, _ in REMINDER_AUDIO)).where(
                    Reminder.status.in_(IN_FLIGHT)
                )
            )
            for key in row
            if key
        }
    removed = 0
    for path in sorted(audio_dir.rglob("*")):
        if path.stem in needed_keys or not _older_than(path, cutoff):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    removed += store.purge_unused(now - unused_for, needed_keys)
    with db.session() as session:
        live = session.execute(
            select(AudioAsset.key, AudioAsset.format).where(AudioAsset.purged_at.is_(None))
        ).all()
    marked = 0
    for key, fmt in live:
        # Looked at one by one, just before marking: a render may have spoken the same
        # words again since, storing them back.
        if store.size(key, fmt) is not None:
            continue
        with db.session() as session:
            result = session.execute(
                update(AudioAsset)
                .where(AudioAsset.key == key, AudioAsset.format == fmt)
                .where(AudioAsset.purged_at.is_(None))
                .values(purged_at=now)
            )
            marked += result.rowcount  # type: ignore[attr-defined]
    return PurgeReport(files_removed=removed, records_marked=marked)


def _older_than(path: Path, cutoff_s: float) -> bool:
    """A file last written before the cutoff; False for a file a render is renaming now."""
    try:
        return path.is_file() and path.stat().st_mtime < cutoff_s
    except FileNotFoundError:
        return False


def purge_audio_daily(
    db: Database, settings: Settings, now: datetime, store: AudioStore
) -> PurgeReport | None:
    """Purge once on ``now``'s UTC day; None when another sweep has claimed the day."""
    if not claim_daily_run(db, AUDIO_PURGE_TASK, now):
        return None
    # A purge that fails keeps the day: it runs again tomorrow (or by hand with
    # ``tellwell purge-audio``) rather than rescanning the audio on every sweep.
    unused_for = timedelta(days=settings.audio_retention_days)
    return purge_audio(db, settings.audio_dir, unused_for, now, store)


_days_taken: WeakKeyDictionary[Database, dict[str, date]] = WeakKeyDictionary()
"""Per database, each task's last day this process saw claimed, by itself or another."""


def claim_daily_run(db: Database, task: str, now: datetime) -> bool:
    """True for the one caller whose insert of (task, UTC day of ``now``) succeeds.

    A day this process has seen claimed is not asked again: the sweeper calls this on
    every sweep, up to five a second, and the question was a transaction each (issue 13).
    """
    day = now.date()
    taken = _days_taken.setdefault(db, {})
    if taken.get(task) == day:
        return False
    with db.sessions() as session:
        if session.get(DailyRun, (task, day)) is not None:
            taken[task] = day
            return False  # the usual case on every sweep after the first: no failed insert
        session.add(DailyRun(task=task, day=day, started_at=now))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            taken[task] = day
            return False
    taken[task] = day
    return True
