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

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: process.poll() is not None or _answers(url), START_TIMEOUT_S)
        assert process.poll() is None, "moto's S3 server did not start"
        bucket = f"tellwell-audio-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=bucket)
        yield S3Server(endpoint_url=url, bucket=bucket)
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)


def _answers(url: str) -> bool:
    try:
        httpx.get(url)
        return True
    except httpx.TransportError:
        return False
