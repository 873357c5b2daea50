"""A real HTTP webhook receiver on loopback, as an app backend or a scheduler would run one.

It checks each request's Standard Webhooks signature by hand (HMAC-SHA256 over
``id.timestamp.body`` with the base64 secret), independently of the library the service
signs with, records every request, and can be told to answer the next requests with 500
or to stall past the sender's timeout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"tellwell-test-webhook-secret-32b").decode()
TIMESTAMP_TOLERANCE_S = 300


def signature_valid(secret: str, message_id: str, timestamp: str, body: bytes, header: str) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(timestamp)) < TIMESTAMP_TOLERANCE_S
    offered = [part.split(",", 1) for part in header.split(" ")]
    return fresh and any(
        version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered
    )


@dataclass
class Received:
    message_id: str
    timestamp: str
    valid: bool
    payload: dict[str, Any]
    answered: int
    host: str
    """The request's Host header: the name the sender was given, whatever address it reached."""


@dataclass
class Receiver:
    url: str
    secret: str = SECRET
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0
    """Answer this many next requests with 500."""
    stall_next: int = 0
    """Hold this many next requests for ``stall_s`` before answering (past the timeout)."""
    stall_s: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        """What the receiving system acts on: each webhook-id once, the first 2xx of it."""
        seen: set[str] = set()
        kept = []
        with self.lock:
            for request in self.requests:
                if request.answered == 204 and request.message_id not in seen:
                    seen.add(request.message_id)
                    kept.append(request)
        return kept


@contextmanager
def running_receiver(
    secret: str = SECRET, address: str = "127.0.0.1", port: int = 0
) -> Iterator[Receiver]:
    """A receiver on ``address`` (any loopback address) and ``port`` (0: a free one)."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with receiver.lock:
                stall = receiver.stall_next > 0
                receiver.stall_next -= stall
                fail = not stall and receiver.fail_next > 0
                receiver.fail_next -= fail
            answer = 500 if fail else 204
            valid = signature_valid(
                secret,
                self.headers.get("webhook-id", ""),
                self.headers.get("webhook-timestamp", "0"),
                body,
                self.headers.get("webhook-signature", ""),
            )
            with receiver.lock:  # recorded on arrival, as a receiver would log it
                receiver.requests.append(
                    Received(
                        message_id=self.headers.get("webhook-id", ""),
                        timestamp=self.headers.get("webhook-timestamp", ""),
                        valid=valid,
                        payload=json.loads(body),
                        answered=answer,
                        host=self.headers.get("host", ""),
                    )
                )
            if stall:
                time.sleep(receiver.stall_s)
            try:
                self.send_response(answer)
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting: that is what a stall tests

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    receiver.url = f"http://{address}:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
