"""Where rendered audio is kept for serving: one small protocol, three stores.

A render speaks into the local speech cache (``voices``, under ``data_dir/audio``) and
then puts the file into the store; the audio route, Range requests, the listen page and
Twilio's ``<Play>`` read through the store; retention and erasure delete through it. So
with a shared store (``database`` or ``s3``) any machine serves what any other rendered.

- ``local``: the speech cache's own files (one machine, or a disk every machine mounts).
- ``database``: the bytes in ``audio_blobs`` (bytea / BLOB) of the shared database.
- ``s3``: objects in an S3-compatible bucket, named like the files (content hash only).

Every store names audio by its content key and format only, never anything about the
patient. ``put`` of audio already stored renews its time of use, which retention reads.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database, utcnow
from service.models import AudioBlob
from voices import AudioFormat


class AudioStore(Protocol):
    """Rendered audio by content key and format (``AudioFormat`` value)."""

    name: str

    def put(self, session: Session, key: str, fmt: str, source: Path) -> None:
        """Keep the file ``source``'s bytes (or renew their time of use if kept); a store
        in the database writes in ``session``, with the audio's record."""

    def size(self, key: str, fmt: str) -> int | None:
        """The stored size in bytes, or None if the store does not hold it."""

    def read(self, key: str, fmt: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` up to ``end`` (exclusive; None: to the end); empty if gone."""

    def delete(self, key: str, fmt: str) -> None:
        """Forget the audio; deleting what is not there is not an error."""

    def purge_unused(self, cutoff: datetime, keep: Collection[str]) -> int:
        """Delete audio not stored or renewed since ``cutoff`` unless its key is in
        ``keep``; how many were deleted (retention)."""


def cache_path(audio_dir: Path, key: str, fmt: str) -> Path:
    """Where the speech cache keeps an audio file (``voices.Speaker``'s own layout)."""
    return audio_dir / key[:2] / f"{key}.{AudioFormat(fmt).extension}"


class LocalAudioStore:
    """The speech cache's files themselves: nothing to copy, nothing another machine sees."""

    name = "local"

    def __init__(self, audio_dir: Path) -> None:
        self.audio_dir = audio_dir

    def path(self, key: str, fmt: str) -> Path:
        return cache_path(self.audio_dir, key, fmt)

    def put(self, session: Session, key: str, fmt: str, source: Path) -> None:
        target = self.path(key, fmt)
        if source.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())

    def size(self, key: str, fmt: str) -> int | None:
        try:
            return self.path(key, fmt).stat().st_size
        except OSError:
            return None

    def read(self, key: str, fmt: str, start: int = 0, end: int | None = None) -> bytes:
        try:
            with self.path(key, fmt).open("rb") as file:
                file.seek(start)
                return file.read(-1 if end is None else max(end - start, 0))
        except OSError:
            return b""

    def delete(self, key: str, fmt: str) -> None:
        self.path(key, fmt).unlink(missing_ok=True)

    def purge_unused(self, cutoff: datetime, keep: Collection[str]) -> int:
        """Nothing: the files are the speech cache, which retention sweeps by file time."""
        return 0


class DatabaseAudioStore:
    """Bytes in ``audio_blobs``: shared by every machine that shares the database.

    A Range is cut by the database (``substr`` on bytea and BLOB), so a seek in a long
    message does not carry the whole file.
    """

    name = "database"

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, session: Session, key: str, fmt: str, source: Path) -> None:
        """In the caller's transaction: the bytes are committed with the audio's record
        (and a second connection never waits on the first's lock, as on SQLite)."""
        renewed = session.execute(
            update(AudioBlob)
            .where(AudioBlob.key == key, AudioBlob.format == fmt)
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            return
        data = source.read_bytes()
        try:
            with session.begin_nested():
                session.add(AudioBlob(key=key, format=fmt, data=data, size=len(data)))
        except IntegrityError:
            pass  # another machine stored the same words at the same moment

    def size(self, key: str, fmt: str) -> int | None:
        with self.db.session() as session:
            return session.scalar(
                select(AudioBlob.size).where(AudioBlob.key == key, AudioBlob.format == fmt)
            )

    def read(self, key: str, fmt: str, start: int = 0, end: int | None = None) -> bytes:
        length = (end if end is not None else 2**31 - 1) - start
        if length <= 0:
            return b""
        with self.db.session() as session:
            data = session.scalar(
                select(func.substr(AudioBlob.data, start + 1, length)).where(
                    AudioBlob.key == key, AudioBlob.format == fmt
                )
            )
        return bytes(data) if data is not None else b""

    def delete(self, key: str, fmt: str) -> None:
        with self.db.session() as session:
            session.execute(delete(AudioBlob).where(AudioBlob.key == key, AudioBlob.format == fmt))

    def purge_unused(self, cutoff: datetime, keep: Collection[str]) -> int:
        with self.db.session() as session:
            candidates = session.execute(
                select(AudioBlob.key, AudioBlob.format).where(AudioBlob.used_at < cutoff)
            ).all()
        deleted = 0
        for key, fmt in candidates:
            if key in keep:
                continue
            with self.db.session() as session:  # unless a render renewed it meanwhile
                gone = session.execute(
                    delete(AudioBlob).where(
                        AudioBlob.key == key, AudioBlob.format == fmt, AudioBlob.used_at < cutoff
                    )
                )
                deleted += gone.rowcount  # type: ignore[attr-defined]
        return deleted


class S3AudioStore:
    """Objects in an S3-compatible bucket, named ``<prefix><key[:2]>/<key>.<format>`` (the
    format, not the extension: app and preview audio are both MP3).

    A kept object's time of use is renewed by copying it onto itself (no bytes sent), so
    retention reads ``LastModified`` as it reads a file's time.
    """

    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str = "") -> None:
        import boto3  # optional: only an s3 store needs it

        self.bucket = bucket
        self.prefix = prefix
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url or None)

    def object_name(self, key: str, fmt: str) -> str:
        return f"{self.prefix}{key[:2]}/{key}.{AudioFormat(fmt).value}"

    def put(self, session: Session, key: str, fmt: str, source: Path) -> None:
        name = self.object_name(key, fmt)
        if self.size(key, fmt) is not None:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=name,
                CopySource={"Bucket": self.bucket, "Key": name},
                MetadataDirective="REPLACE",
                ContentType=AudioFormat(fmt).media_type,
            )
            return
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=source.read_bytes(),
            ContentType=AudioFormat(fmt).media_type,
        )

    def size(self, key: str, fmt: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_name(key, fmt))
        except ClientError:
            return None
        return int(head["ContentLength"])

    def read(self, key: str, fmt: str, start: int = 0, end: int | None = None) -> bytes:
        from botocore.exceptions import ClientError

        if end is not None and end <= start:
            return b""
        wanted = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self.object_name(key, fmt), Range=wanted
            )
        except ClientError:
            return b""
        return bytes(answer["Body"].read())

    def delete(self, key: str, fmt: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_name(key, fmt))

    def purge_unused(self, cutoff: datetime, keep: Collection[str]) -> int:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        deleted = 0
        for page in pages:
            for item in page.get("Contents", []):
                key, _, fmt = item["Key"].rpartition("/")[2].partition(".")
                if item["LastModified"] < cutoff and fmt in _FORMATS and key not in keep:
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                    deleted += 1
        return deleted


_FORMATS = {fmt.value for fmt in AudioFormat}


def audio_store_from_settings(settings: Settings, db: Database) -> AudioStore:
    """The store the settings name; ``db`` is the process's own (the database store's)."""
    if settings.audio_store == "database":
        return DatabaseAudioStore(db)
    if settings.audio_store == "s3":
        return S3AudioStore(
            settings.audio_s3_bucket, settings.audio_s3_prefix, settings.audio_s3_endpoint_url
        )
    return LocalAudioStore(settings.audio_dir)
