"""A real S3-compatible server for the s3 audio store: moto's server, over real HTTP.

moto (``moto[server]``) implements S3's HTTP API in a separate process; boto3 talks to it
exactly as to AWS, so signing, ranges, copies and listings all go over the wire. It keeps
objects in memory, so each test gets its own server and bucket.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from devtools.ports import free_port
from tests.support.waiting import wait_for

START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "tellwell-test",
    "AWS_SECRET_ACCESS_KEY": "tellwell-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What boto3 reads (the s3 store takes its credentials from boto3's own chain)."""


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def settings(self) -> dict[str, str]:
        """Settings overrides that put a node's audio in this server's bucket."""
        return {
            "audio_store": "s3",
            "audio_s3_endpoint_url": self.endpoint_url,
            "audio_s3_bucket": self.bucket,
        }

    def object_names(self) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint_url)
        listing = client.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """moto's S3 server on a loopback port with one empty bucket, for the block.

    The caller sets ``S3_ENV`` in its environment (and its child processes') first.
    """
    import boto3

    process, url = _started_moto()
    try:
        bucket = f"tellwell-audio-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=bucket)
        yield S3Server(endpoint_url=url, bucket=bucket)
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)


def _started_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server, answering as S3 on a free loopback port, and its address.

    Another test's server may take the port between ``free_port`` and moto's start (once
    in CI it answered the bucket's creation with a 404): moto then cannot bind and exits,
    and the next port is tried.
    """
    for _ in range(START_ATTEMPTS):
        port = free_port()
        process = _moto_on(port)
        if process is not None:
            return process, _address(port)
    raise AssertionError(f"moto's S3 server did not start in {START_ATTEMPTS} tries")


def _moto_on(port: int) -> subprocess.Popen[bytes] | None:
    """moto's server on loopback ``port`` once it answers as S3, or None if it exited first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = _address(port)
    wait_for(lambda: process.poll() is not None or _answers_as_s3(url), START_TIMEOUT_S)
    return process if process.poll() is None else None


def _address(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _answers_as_s3(url: str) -> bool:
    """Whether S3 answers at ``url``: a bucket listing, which no other server here gives."""
    try:
        return b"ListAllMyBucketsResult" in httpx.get(url).content
    except httpx.TransportError:
        return False
