"""A clinic's own words: its pronunciations, its wording versions and their reviews.

- **Lexicon**: per clinic and language, entries layered over the shipped lexicon at render
  time (``templates.lexicon.layered``); spoken text only.
- **Wording**: a clinic's text for a kind, language and variant, kept as numbered versions
  that never change; the newest is used. Saving is gated (``workers.wording``) before it
  reaches ``save_version``.
- **Reviews**: a reviewer signs one version of a language's wording, named by a content
  hash (``wording_hash``): the shipped files, or a clinic's effective wording (the shipped
  text with the clinic's newest versions over it). A new version changes the hash, so the
  review does not carry over.
- **What a message uses** (``words_for``): the clinic's lexicon and newest versions for the
  language; when the clinic requires reviewed wording and the language's is not, its
  default language instead, said so in ``fell_back_from``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.clinics import find_clinic
from service.errors import FieldError, Problem
from service.models import (
    Clinic,
    ClinicLexiconEntry,
    WordingReview,
    WordingVersion,
    audit,
)
from service.security import Caller
from templates import Entry, load_profile, shipped_wording_hash

WordingKey = tuple[str, str]
"""(kind, variant) of one message."""


def clinic_or_404(session: Session, clinic_id: str) -> Clinic:
    clinic = find_clinic(session, clinic_id)
    if clinic is None:
        raise Problem(404, "Not found", f"There is no clinic {clinic_id!r}.", slug="no-clinic")
    return clinic


# -- lexicon ---------------------------------------------------------------------------


def lexicon_rows(session: Session, clinic_id: str, language: str) -> list[ClinicLexiconEntry]:
    return list(
        session.scalars(
            select(ClinicLexiconEntry)
            .where(
                ClinicLexiconEntry.clinic_id == clinic_id, ClinicLexiconEntry.language == language
            )
            .order_by(ClinicLexiconEntry.written)
        )
    )


def put_lexicon_entry(
    session: Session, clinic_id: str, language: str, written: str, spoken: str, match_case: bool
) -> tuple[ClinicLexiconEntry, bool]:
    """Set how ``written`` is said; True when the entry is new (else it was replaced)."""
    row = session.scalar(
        select(ClinicLexiconEntry).where(
            ClinicLexiconEntry.clinic_id == clinic_id,
            ClinicLexiconEntry.language == language,
            ClinicLexiconEntry.written == written,
        )
    )
    created = row is None
    if row is None:
        row = ClinicLexiconEntry(clinic_id=clinic_id, language=language, written=written)
        session.add(row)
    row.spoken, row.match_case = spoken, match_case
    try:
        session.flush()
    except IntegrityError as err:  # the same word saved at the same moment by someone else
        raise Problem(
            409, "Conflict", "This word was saved at the same moment; send it again."
        ) from err
    return row, created


def delete_lexicon_entry(session: Session, clinic_id: str, language: str, entry_id: str) -> None:
    row = session.get(ClinicLexiconEntry, entry_id)
    if row is None or row.clinic_id != clinic_id or row.language != language:
        raise Problem(404, "Not found", "There is no such lexicon entry.", slug="no-entry")
    session.delete(row)


# -- wording versions ------------------------------------------------------------------


def save_version(
    session: Session,
    caller: Caller,
    clinic_id: str,
    key: WordingKey,
    language: str,
    text: str,
) -> WordingVersion:
    """The next version of this message's wording; the gates have passed already."""
    kind, variant = key
    newest = session.scalar(
        select(func.max(WordingVersion.number)).where(
            WordingVersion.clinic_id == clinic_id,
            WordingVersion.kind == kind,
            WordingVersion.language == language,
            WordingVersion.variant == variant,
        )
    )
    version = WordingVersion(
        clinic_id=clinic_id,
        kind=kind,
        language=language,
        variant=variant,
        number=(newest or 0) + 1,
        text=text,
        created_by_key_id=caller.id,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError as err:  # two saves raced for the same number
        raise Problem(
            409,
            "Conflict",
            "Another version was saved at the same moment; read the versions and save again.",
        ) from err
    return version


def list_versions(
    session: Session, clinic_id: str, key: WordingKey, language: str
) -> list[WordingVersion]:
    kind, variant = key
    return list(
        session.scalars(
            select(WordingVersion)
            .where(
                WordingVersion.clinic_id == clinic_id,
                WordingVersion.kind == kind,
                WordingVersion.language == language,
                WordingVersion.variant == variant,
            )
            .order_by(WordingVersion.number)
        )
    )


def find_version(
    session: Session, clinic_id: str, key: WordingKey, language: str, number: int
) -> WordingVersion | None:
    kind, variant = key
    return session.scalar(
        select(WordingVersion).where(
            WordingVersion.clinic_id == clinic_id,
            WordingVersion.kind == kind,
            WordingVersion.language == language,
            WordingVersion.variant == variant,
            WordingVersion.number == number,
        )
    )


def newest_versions(
    session: Session, clinic_id: str, language: str
) -> dict[WordingKey, WordingVersion]:
    """The version in use for each message this clinic has reworded in ``language``."""
    newest: dict[WordingKey, WordingVersion] = {}
    rows = session.scalars(
        select(WordingVersion)
        .where(WordingVersion.clinic_id == clinic_id, WordingVersion.language == language)
        .order_by(WordingVersion.number)
    )
    for row in rows:
        newest[(row.kind, row.variant)] = row
    return newest


# -- reviews ---------------------------------------------------------------------------


def wording_hash(session: Session, clinic_id: str | None, language: str) -> str:
    """The hash of the wording a patient of ``clinic_id`` hears in ``language``.

    The shipped files' hash when the clinic has no version of its own in the language.
    """
    shipped = shipped_wording_hash(language)
    versions = newest_versions(session, clinic_id, language) if clinic_id else {}
    if not versions:
        return shipped
    digest = hashlib.sha256(shipped.encode())
    for key in sorted(versions):
        digest.update(f"\0{key[0]}\0{key[1]}\0{versions[key].id}".encode())
    return digest.hexdigest()


def review_of(session: Session, clinic_id: str | None, language: str) -> WordingReview | None:
    """The newest review of the wording in use now; None when it has none.

    A clinic without wording of its own in ``language`` speaks the shipped text, so a
    review of the shipped text counts for it.
    """
    current = wording_hash(session, clinic_id, language)
    owner = clinic_id if current != shipped_wording_hash(language) else None
    return session.scalar(
        select(WordingReview)
        .where(
            WordingReview.language == language,
            WordingReview.wording_hash == current,
            WordingReview.clinic_id.is_(None)
            if owner is None
            else WordingReview.clinic_id == owner,
        )
        .order_by(WordingReview.reviewed_at.desc(), WordingReview.id.desc())
        .limit(1)
    )


def is_reviewed(session: Session, clinic_id: str | None, language: str) -> bool:
    """Reviewed here, or (for the shipped text) marked so in its ``language.json``."""
    if review_of(session, clinic_id, language) is not None:
        return True
    shipped = wording_hash(session, clinic_id, language) == shipped_wording_hash(language)
    profile = load_profile(language)
    return shipped and bool(profile and profile.reviewed)


def record_review(
    session: Session,
    caller: Caller,
    language: str,
    clinic_id: str | None,
    version: str,
    reviewer: str,
    now: datetime,
) -> WordingReview:
    """Sign ``version`` of the wording; 409 when it is no longer the wording in use."""
    current = wording_hash(session, clinic_id, language)
    if version != current:
        raise Problem(
            409,
            "Wording changed",
            "The wording changed since this version was read; review the current version "
            f"({current}).",
            slug="wording-changed",
            errors=[FieldError("version", "is not the wording in use now")],
        )
    owner = clinic_id if current != shipped_wording_hash(language) else None
    review = WordingReview(
        language=language,
        clinic_id=owner,
        wording_hash=current,
        reviewer=reviewer,
        reviewer_key_id=caller.id,
        reviewed_at=now,
    )
    session.add(review)
    session.flush()
    return review


def sign_clinic_wording(
    session: Session,
    caller: Caller,
    clinic_id: str,
    language: str,
    version: str,
    reviewer: str,
    now: datetime,
) -> WordingReview:
    """``record_review`` of a clinic's wording, with its audit entry (not committed)."""
    review = record_review(session, caller, language, clinic_id, version, reviewer, now)
    audit(session, caller.id, "wording.review", "clinic", clinic_id, {"language": language})
    return review


# -- what a message uses ---------------------------------------------------------------


@dataclass(frozen=True)
class ChosenWording:
    """The clinic version a message is rendered with."""

    id: str
    number: int
    text: str

    @classmethod
    def of(cls, version: WordingVersion) -> ChosenWording:
        return cls(id=version.id, number=version.number, text=version.text)


@dataclass(frozen=True)
class ClinicWords:
    """The clinic's words for one language, as the renderer takes them."""

    language: str
    """The language to render in: the one asked for, or the clinic's default (see below)."""
    lexicon: tuple[Entry, ...] = ()
    wording: dict[WordingKey, ChosenWording] = field(default_factory=dict)
    """(kind, variant) -> the clinic's newest version (or the one pinned)."""
    fell_back_from: str | None = None
    """The language asked for, when its wording is unreviewed and the clinic requires review."""

    def version_for(self, kind: str, variant: str) -> ChosenWording | None:
        return self.wording.get((kind, variant))


def clinic_id_of(facts: dict[str, Any]) -> str | None:
    """The clinic a reminder's stored facts came from, if it came from a clinic record."""
    clinic = facts.get("clinic") or {}
    clinic_id = clinic.get("id")
    return clinic_id if isinstance(clinic_id, str) else None


def words_for(
    session: Session,
    clinic_id: str | None,
    language: str,
    *,
    pinned: WordingVersion | None = None,
) -> ClinicWords:
    """What a message for ``clinic_id`` in ``language`` is rendered with.

    ``pinned`` replaces the newest version of its own message (a preview of an older one).
    A clinic that requires reviewed wording gets its default language when the language's
    wording is unreviewed (and the default's is reviewed, or it is the same language).
    """
    clinic = find_clinic(session, clinic_id) if clinic_id else None
    if clinic is None:
        return ClinicWords(language=language)
    fell_back_from = None
    if (
        clinic.require_reviewed_wording
        and language != clinic.default_language
        and not is_reviewed(session, clinic.id, language)
    ):
        fell_back_from, language = language, clinic.default_language
    lexicon = tuple(
        Entry(row.written, row.spoken, row.match_case)
        for row in lexicon_rows(session, clinic.id, language)
    )
    newest = newest_versions(session, clinic.id, language)
    wording = {key: ChosenWording.of(version) for key, version in newest.items()}
    if pinned is not None and pinned.language == language:
        wording[(pinned.kind, pinned.variant)] = ChosenWording.of(pinned)
    return ClinicWords(
        language=language, lexicon=lexicon, wording=wording, fell_back_from=fell_back_from
    )
