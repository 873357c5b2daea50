"""Audio store benchmark (issue 13 goal 4): serving a 60 s phone message from each store.

One 60 s phone-format file (8 kHz mu-law WAV, as Twilio fetches it) is put into each
store: ``local`` (a file), ``database`` (``audio_blobs`` on PostgreSQL) and ``s3`` (moto's
S3 server on loopback, when ``moto[server]`` and boto3 are installed). The real app,
served by uvicorn on loopback, answers its signed link; the bench times, over real HTTP,
the whole file (Twilio's ``<Play>``) and a 64 KiB range (a browser seeking on the listen
page), and prints the median milliseconds and the ratio to ``local``.

    .venv/bin/python bench/audio_store.py [--requests 50]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import bench_database, database_url  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from service.app import create_app  # noqa: E402
from service.audio_store import audio_store_from_settings, cache_path  # noqa: E402
from service.config import Settings  # noqa: E402
from service.links import Links  # noqa: E402
from service.models import AudioAsset  # noqa: E402
from voices import AudioFormat  # noqa: E402
from voices.audio import Pcm, encode_pcm  # noqa: E402

BENCH_DB = "audio_store"
DATABASE_URL = database_url(BENCH_DB)
MESSAGE_S = 60
RANGE_BYTES = 64 * 1024
KEY = "ab" * 32
"""A content key like any other (64 hex digits): the bench's one audio."""
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START_TIMEOUT_S = 60.0


def sixty_seconds_of_phone_audio() -> bytes:
    """A voice-like signal (a gliding tone with harmonics and noise), encoded for phones."""
    rate = 16000
    t = np.arange(MESSAGE_S * rate) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    rng = np.random.default_rng(13)
    signal = sum(np.sin(k * phase) / k for k in range(1, 6)) + 0.05 * rng.standard_normal(len(t))
    samples = (0.3 * signal / np.max(np.abs(signal))).astype(np.float32)
    return encode_pcm(Pcm(samples=samples, rate_hz=rate), AudioFormat.PHONE).data


@contextmanager
def moto_server() -> Iterator[str | None]:
    """moto's S3 server on loopback and a bucket, or None if moto is not installed."""
    try:
        import boto3
    except ImportError:
        yield None
        return
    os.environ.update(S3_ENV)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(url)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        if process.poll() is not None:
            yield None
            return
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, run_sweeper=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)


def median_ms(client: httpx.Client, url: str, requests: int, headers: dict[str, str]) -> float:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code in (200, 206), answer.text
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    audio = sixty_seconds_of_phone_audio()
    fmt = AudioFormat.PHONE.value
    print(f"a {MESSAGE_S} s phone message: {len(audio) / 1024:.0f} KiB; {args.requests} requests")
    results: dict[str, tuple[float, float]] = {}
    signing_key = secrets.token_urlsafe(32)
    seek = {"Range": f"bytes=0-{RANGE_BYTES - 1}"}
    with tempfile.TemporaryDirectory() as tmp, bench_database(BENCH_DB) as db, moto_server() as s3:
        stores: dict[str, dict[str, str]] = {"local": {}, "database": {}}
        if s3 is not None:
            stores["s3"] = {"audio_s3_endpoint_url": s3, "audio_s3_bucket": "bench"}
        else:
            print("s3: not measured (moto[server] and boto3 are not installed)")
        for name, extra in stores.items():
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=Path(tmp) / name,
                database_url=DATABASE_URL,
                secret_key=signing_key,
                audio_store=name,  # type: ignore[arg-type]
                **extra,  # type: ignore[arg-type]
            )
            source = cache_path(settings.audio_dir, KEY, fmt)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(audio)
            with db.session() as session:
                audio_store_from_settings(settings, db).put(session, KEY, fmt, source)
                if session.get(AudioAsset, (KEY, fmt)) is None:
                    session.add(
                        AudioAsset(
                            key=KEY,
                            format=fmt,
                            media_type=AudioFormat.PHONE.media_type,
                            path=str(source),
                            duration_s=MESSAGE_S,
                            engine="bench",
                            voice="bench",
                        )
                    )
            with served(settings) as base, httpx.Client() as client:
                links = Links(base, settings.signing_key(), settings.audio_link_ttl_s)
                url = links.audio(KEY, fmt)
                assert client.get(url).content == audio
                whole = median_ms(client, url, args.requests, {})
                part = median_ms(client, url, args.requests, seek)
            results[name] = (whole, part)
    local_whole, local_part = results["local"]
    print(f"{'store':<10}{'whole ms':>10}{'x local':>9}{'64 KiB ms':>11}{'x local':>9}")
    for name, (whole, part) in results.items():
        print(
            f"{name:<10}{whole:>10.2f}{whole / local_whole:>9.2f}"
            f"{part:>11.2f}{part / local_part:>9.2f}"
        )


if __name__ == "__main__":
    main()
