"""Settings: the one place that reads the environment (prefix ``TELLWELL_``).

Everything else asks ``get_settings()``. The defaults are the embedded set-up: a SQLite
file, the in-process queue, the offline voice and the local outbox, so a fresh checkout
runs without any service or credential.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voices.http_engine import HttpVoice

DEFAULT_DATA_DIR = Path("var")
PLACEHOLDER_SECRETS = frozenset(
    {"change-me", "changeme", "change_me", "secret", "password", "replace-me", "todo", "xxx"}
)
"""Secret keys copied from examples and templates: anyone could forge links signed with them."""
DEFAULT_RATE_LIMIT_PER_SECOND = 1000.0
"""Per API key: well above what one scheduling system sends (the ingest bench: ~350/s)."""
DEFAULT_RATE_LIMIT_BURST = 2000


class Settings(BaseSettings):
    """Runtime configuration; see README.md for every variable."""

    # An error names the field and the reason, never the value: it may be a secret
    # (a mistyped field inside TELLWELL_HTTP_TTS could hold the server's key).
    model_config = SettingsConfigDict(
        env_prefix="TELLWELL_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    """SQLAlchemy URL; empty means a SQLite file under ``data_dir``."""
    redis_url: str = ""
    """With a Redis URL jobs go to RQ; empty means the in-process executor."""
    queue_name: str = "tellwell"
    public_base_url: str = "http://127.0.0.1:8000"
    """Where patients, Twilio and the console reach us; links are built from it."""
    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(""))
    """Signs audio links. Empty means a key generated once and kept in ``data_dir``."""
    log_format: Literal["json", "text"] = "json"
    """JSON lines for a log collector, or ``text`` for a person at a terminal (``make run``)."""
    environment: Literal["production", "development"] = "production"
    """``development`` lets a placeholder secret key through (see ``PLACEHOLDER_SECRETS``)."""
    audio_link_ttl_s: int = 24 * 3600
    audio_store: Literal["local", "database", "s3"] = "local"
    """Where rendered audio is kept for serving: ``local`` files under ``data_dir`` (one
    machine, or every machine on a shared disk), ``database`` (its bytes in the shared
    database) or ``s3`` (an S3-compatible bucket); see docs/architecture.md "Scaling out"."""
    audio_s3_bucket: str = ""
    audio_s3_endpoint_url: str = ""
    """An S3-compatible server's URL (MinIO, Ceph...); empty means AWS S3. Credentials and
    region come from boto3's own chain (``AWS_ACCESS_KEY_ID``..., an instance role)."""
    audio_s3_prefix: str = "audio/"
    channel: str = "outbox"
    """Delivery channel for every reminder until a provider is configured."""
    sweep_interval_s: float = 5.0
    """How often the sweeper looks for due or stuck reminders (sooner when a rendered
    reminder falls due before its next pass)."""
    render_ahead_s: float = Field(default=3600.0, ge=0)
    """How long before its send time a reminder may be rendered, in spare capacity: renders
    ahead wait in the lowest-priority queue, so the morning peak is mostly dispatch. 0
    renders each reminder when it falls due."""
    lease_s: float = 120.0
    """How long a worker owns a reminder it is rendering or dispatching."""
    requeue_after_s: float = 60.0
    """A due reminder whose job has not started by then is enqueued again (Redis lost it)."""
    requeue_backoff_max_s: float = 300.0
    """A reminder that has waited long in a backlog is looked at less often, as long again
    as it has been due but never less often than this (``workers.sweeper``); at or below
    ``requeue_after_s``, every ``requeue_after_s``."""
    outage_retry_max_s: float = 30.0
    """Longest wait between tries to reach Redis or the database while it is down."""
    in_process_workers: int = 2
    calling_window_start_hour: int = 8
    calling_window_end_hour: int = 21
    max_body_bytes: int = 64 * 1024
    rate_limit_per_second: float = Field(default=DEFAULT_RATE_LIMIT_PER_SECOND, ge=0)
    """Requests per second each API key may make, on average; 0 turns the limit off."""
    rate_limit_burst: int = Field(default=DEFAULT_RATE_LIMIT_BURST, ge=1)
    """Requests an idle API key may make at once before the per-second rate applies."""
    metrics_token: SecretStr = Field(default_factory=lambda: SecretStr(""))
    """When set, ``GET /metrics`` needs ``Authorization: Bearer <token>``; empty: open."""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    """``tellwell worker`` serves its Prometheus metrics on this port; 0: not served."""
    mllp_port: int | None = Field(default=None, ge=0, le=65535)
    """``tellwell serve`` also runs the HL7 MLLP listener on this port (docs/hl7.md); None:
    it does not (``tellwell mllp`` runs one alone)."""
    mllp_host: str = "127.0.0.1"
    """Where ``tellwell serve``'s MLLP listener binds."""
    audio_retention_days: int = 30
    """``tellwell purge-audio`` removes audio unused this long (rendered messages are PHI)."""
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = Field(default_factory=lambda: SecretStr(""))
    twilio_from_number: str = ""
    """The caller id patients see: a number on the Twilio account, E.164."""
    twilio_api_base: str = "https://api.twilio.com"
    """Where the Twilio REST API is; point it at the simulator for tests and demos."""
    twilio_calls_per_second: float = 1.0
    """The account's outbound pace, shared by every worker through Redis; 0 = unlimited."""
    twilio_timeout_s: float = 10.0
    """Per HTTP request to Twilio's REST API."""
    speech_confidence_min: float = Field(default=0.5, ge=0, le=1)
    """A spoken reply Twilio heard with less confidence is asked once to confirm by key."""
    calls_per_day: int = 1
    """At most this many calls per patient per reminder in any 24 hours."""
    calls_per_week: int = 3
    """At most this many calls per patient per reminder in any 7 days, then ``failed``."""
    call_retry_backoff_s: float = 3600.0
    """The least wait before calling again after busy, no answer or a failed call."""
    app_webhook_url: str = ""
    """The app backend that channel ``app`` POSTs to; empty keeps ``app`` on the outbox."""
    app_webhook_secret: SecretStr = Field(default_factory=lambda: SecretStr(""))
    """Standard Webhooks secret (``whsec_`` + base64) signing what we POST to the app backend."""
    client_webhook_secret: SecretStr = Field(default_factory=lambda: SecretStr(""))
    """Standard Webhooks secret signing status webhooks to ``callback_url``; empty: not sent."""
    webhook_allow_private_targets: bool = False
    """Allow webhooks to private, loopback and link-local addresses (tests, closed networks)."""
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 5.0
    """First retry delay of a failed webhook; each next one doubles, with jitter."""
    webhook_max_attempts: int = 8
    console_idle_timeout_s: int = 15 * 60
    """A console session unused this long ends; each page view renews it."""
    console_session_max_s: int = 8 * 3600
    """However active, a console session ends this long after sign-in (one shift)."""
    piper_enabled: bool = True
    """Piper, the neural offline voice English speaks with; off falls back to espeak-ng."""
    piper_voices_dir: Path | None = None
    """Extra Piper voices (``name.onnx`` + ``name.onnx.json``); empty means ``data_dir/voices``."""
    piper_threads: int = 1
    """onnxruntime threads per worker process for Piper."""
    gtts_enabled: bool = False
    """Google's online voices (gtts). Sends message text, which is PHI, to Google, with
    whom there is no business associate agreement (BAA): enable only where that is
    acceptable. Off by default; when on, Tagalog becomes available."""
    gtts_timeout_s: float = 10.0
    """Longest a gtts render may take before the offline voice is used instead."""
    pyttsx3_enabled: bool = False
    """The operating system's own voices through pyttsx3 (for catalogs that name them)."""
    http_tts: dict[str, HttpVoice] = Field(default_factory=dict)
    """Voices on HTTP speech servers, per language code, as JSON (``voices.HttpVoice``):
    ``{"en": {"url": "http://tts.internal:8880/v1/audio/speech", "voice": "af_heart",
    "model": "kokoro"}}``. Sends message text, which is PHI, to that server: configure
    only a server on-premises or one whose operator has signed a business associate
    agreement (BAA). Empty (the default): no text leaves the machine this way. Each
    language falls back to its offline voice when its server fails or overruns."""
    pico_enabled: bool = True
    """SVOX Pico (Spanish, French, German, Italian) where ``make voices`` installed it;
    off, or not installed, falls back to espeak-ng."""
    rhvoice_enabled: bool = True
    """RHVoice (Russian, Brazilian Portuguese) where ``make voices`` installed it; off, or
    not installed, falls back to espeak-ng."""

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        configured = self.secret_key.get_secret_value()
        guessable = configured.strip().lower() in PLACEHOLDER_SECRETS or (
            configured and not configured.strip()
        )
        if guessable and self.environment != "development":
            raise ValueError(
                "TELLWELL_SECRET_KEY is a placeholder anyone can guess: set a long random "
                "value (e.g. `openssl rand -base64 48`), or unset it to have one generated "
                "into TELLWELL_DATA_DIR (TELLWELL_ENVIRONMENT=development allows it)"
            )
        return self

    @model_validator(mode="after")
    def _s3_store_needs_a_bucket(self) -> Settings:
        if self.audio_store == "s3" and not self.audio_s3_bucket:
            raise ValueError("TELLWELL_AUDIO_STORE=s3 needs TELLWELL_AUDIO_S3_BUCKET")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tellwell.sqlite3').resolve()}"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def voices_dir(self) -> Path:
        return self.piper_voices_dir or self.data_dir / "voices"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def signing_key(self) -> str:
        """The configured secret, or one made on first use and kept beside the data."""
        configured = self.secret_key.get_secret_value()
        if configured:
            return configured
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def derived_secret(self, purpose: str) -> bytes:
        """A key for one ``purpose`` only, derived from the signing key: what one use
        reveals (a cache's file names, a table of hashes) says nothing of another's."""
        return hashlib.sha256(f"tellwell {purpose}\0{self.signing_key()}".encode()).digest()


@lru_cache
def get_settings() -> Settings:
    return Settings()
