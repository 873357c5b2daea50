"""The ``tellwell`` command as an operator runs it, in a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pydub import AudioSegment

from devtools.ports import free_port
from service.db import Database
from service.models import ApiKey
from service.security import find_key, hash_key


def tellwell(
    *args: str, data_dir: Path, database_url: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TELLWELL_DATA_DIR": str(data_dir),
        "TELLWELL_DATABASE_URL": database_url,
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_create_prints_a_working_key_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    assert tellwell("migrate", data_dir=tmp_path, database_url=url).returncode == 0
    made = tellwell("keys", "create", "--role", "staff", data_dir=tmp_path, database_url=url)
    assert made.returncode == 0, made.stderr
    raw = made.stdout.strip()
    db = Database(url)
    with db.session() as session:
        key = find_key(session, raw)
        assert key is not None and key.role == "staff"
        stored = session.get_one(ApiKey, key.id)
        assert raw not in (stored.key_hash, stored.prefix) and stored.key_hash == hash_key(raw)
    db.dispose()
    refused = tellwell("keys", "create", "--role", "root", data_dir=tmp_path, database_url=url)
    assert refused.returncode != 0 and "root" in refused.stderr


def test_render_writes_one_message_offline(tmp_path: Path) -> None:
    data = {
        "patient": {"name": "Ana Ruiz", "timezone": "America/New_York", "speech_rate": "slow"},
        "clinic": {"name": "Harbor Health", "callback_phone": "+16175550100"},
        "appointment": {"start": "2030-03-05T15:00:00+00:00", "provider": "Dr. Patel"},
    }
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(data))
    out = tmp_path / "message.mp3"
    done = tellwell(
        "render",
        "--kind",
        "appointment_reminder",
        "--language",
        "en",
        "--variant",
        "call",
        "--data",
        str(facts),
        "-o",
        str(out),
        data_dir=tmp_path,
        database_url="",
    )
    assert done.returncode == 0, done.stderr
    assert "Ana" in done.stdout and "Harbor Health" in done.stdout
    assert "10 AM" in done.stdout  # 15:00 UTC said in the patient's zone
    segment = AudioSegment.from_file(out)
    assert 10 < segment.duration_seconds < 90


def test_render_refuses_an_unknown_language(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps(
            {
                "patient": {"name": "A", "timezone": "UTC"},
                "clinic": {"name": "C", "callback_phone": "+16175550100"},
                "result": {"ordered_by": None},
            }
        )
    )
    done = tellwell(
        "render",
        "--kind",
        "result_ready",
        "--language",
        "xx",
        "--variant",
        "call",
        "--data",
        str(facts),
        "-o",
        str(tmp_path / "x.mp3"),
        data_dir=tmp_path,
        database_url="",
    )
    assert done.returncode == 2
    assert "cannot render" in done.stderr


def test_purge_audio_reports_what_it_removed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    assert tellwell("migrate", data_dir=tmp_path, database_url=url).returncode == 0
    done = tellwell("purge-audio", "--unused-days", "0", data_dir=tmp_path, database_url=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "removed 0 files; 0 links now gone"


def test_check_passes_when_the_database_and_redis_answer(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    done = tellwell("check", data_dir=tmp_path, database_url=url, TELLWELL_REDIS_URL=redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "database: ok, queue: ok"


def test_check_fails_naming_what_does_not_answer(tmp_path: Path, redis_url: str) -> None:
    nobody = free_port()
    no_database = f"postgresql+psycopg://tellwell@127.0.0.1:{nobody}/tellwell"
    done = tellwell(
        "check", data_dir=tmp_path, database_url=no_database, TELLWELL_REDIS_URL=redis_url
    )
    assert done.returncode == 1
    assert done.stdout.startswith("database: unreachable") and "queue: ok" in done.stdout

    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    no_redis = f"redis://127.0.0.1:{nobody}/0"
    done = tellwell("check", data_dir=tmp_path, database_url=url, TELLWELL_REDIS_URL=no_redis)
    assert done.returncode == 1
    assert done.stdout.strip() == "database: ok, queue: unreachable (QueueUnavailable)"


def test_a_placeholder_secret_key_is_refused_outside_development(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    refused = tellwell(
        "migrate", data_dir=tmp_path, database_url=url, TELLWELL_SECRET_KEY="change-me"
    )
    assert refused.returncode == 1
    assert "TELLWELL_SECRET_KEY is a placeholder" in refused.stderr
    assert "change-me" not in refused.stderr + refused.stdout

    allowed = tellwell(
        "migrate",
        data_dir=tmp_path,
        database_url=url,
        TELLWELL_SECRET_KEY="change-me",
        TELLWELL_ENVIRONMENT="development",
    )
    assert allowed.returncode == 0, allowed.stderr


def test_a_bad_speech_server_setting_is_refused_naming_it(tmp_path: Path) -> None:
    secret = "Bearer sk-never-shown-41c2"
    servers = {
        "en": {
            "url": "http://tts.internal:8880/v1/audio/speech",
            "voice": "af_heart",
            "dialect": "json",
            "body": {"input": "{txt}"},
            "auth_secert": secret,
        }
    }
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    refused = tellwell(
        "migrate", data_dir=tmp_path, database_url=url, TELLWELL_HTTP_TTS=json.dumps(servers)
    )

    assert refused.returncode == 1
    assert "TELLWELL_HTTP_TTS en.body: has unknown placeholder {txt}" in refused.stderr
    assert "TELLWELL_HTTP_TTS en.auth_secert: Extra inputs are not permitted" in refused.stderr
    assert secret not in refused.stderr + refused.stdout


def test_keys_create_limits_a_scheduler_key_to_clinics(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    assert tellwell("migrate", data_dir=tmp_path, database_url=url).returncode == 0
    made = tellwell(
        *("keys", "create", "--role", "scheduler", "--clinic", "riverside", "--clinic", "other"),
        data_dir=tmp_path,
        database_url=url,
    )
    assert made.returncode == 0, made.stderr
    db = Database(url)
    with db.session() as session:
        key = find_key(session, made.stdout.strip())
        assert key is not None and key.clinic_ids == frozenset({"riverside", "other"})
        assert key.may_use_clinic("riverside") and not key.may_use_clinic("lakeside")
    db.dispose()
    staff = tellwell(
        *("keys", "create", "--role", "staff", "--clinic", "riverside"),
        data_dir=tmp_path,
        database_url=url,
    )
    assert staff.returncode != 0 and "scheduler" in staff.stderr
    bad = tellwell(
        *("keys", "create", "--role", "scheduler", "--clinic", "Not A Slug"),
        data_dir=tmp_path,
        database_url=url,
    )
    assert bad.returncode != 0 and "Not A Slug" in bad.stderr
