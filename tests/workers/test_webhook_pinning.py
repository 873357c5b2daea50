"""The sender connects to the address it checked, never to a second answer for the name.

Two real receivers listen on the same port at 127.0.0.1 and 127.0.0.2; the host name is
one the system cannot resolve (``.test``), and the resolver handed to the sender answers
first one address, then the other, as a rebinding DNS server would. Private targets are
allowed here only because both receivers are on loopback; the pinning is the same either
way. Over TLS, SNI and the certificate check use the name, not the pinned address.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service.webhook_targets import TargetUnresolved
from tests.support.webhook_receiver import SECRET, Receiver, running_receiver
from workers.pinned_http import PinnedTransport, pinned
from workers.webhooks import WebhookSender

SEND_TIMEOUT_S = 2.0
HOST = "hooks.rebind.test"


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with running_receiver() as first:
        port = urlsplit(first.url).port
        assert port is not None
        with running_receiver(address="127.0.0.2", port=port) as second:
            yield first, second


class Answers:
    """Each lookup of the name gets the next answer (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        assert host == HOST
        self.lookups += 1
        return [self.answers[min(self.lookups, len(self.answers)) - 1]]


def test_each_post_goes_to_the_address_its_own_check_resolved(
    receivers: tuple[Receiver, Receiver],
) -> None:
    first, second = receivers
    port = urlsplit(first.url).port
    answers = Answers("127.0.0.1", "127.0.0.2")
    sender = WebhookSender(SECRET, SEND_TIMEOUT_S, allow_private=True, resolve=answers)
    url = f"http://{HOST}:{port}/hooks"
    try:
        sender.post(url, "msg_first", {"type": "test"})
        assert answers.lookups == 1, "the name is resolved once per request, by the check"
        assert [r.message_id for r in first.requests] == ["msg_first"]
        assert second.requests == []
        (received,) = first.requests
        assert received.valid and received.host == f"{HOST}:{port}"

        sender.post(url, "msg_second", {"type": "test"})
        assert answers.lookups == 2
        assert [r.message_id for r in second.requests] == ["msg_second"]
        assert len(first.requests) == 1
    finally:
        sender.close()


def test_a_name_that_no_longer_resolves_gets_no_traffic(
    receivers: tuple[Receiver, Receiver],
) -> None:
    first, _ = receivers

    def gone(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    sender = WebhookSender(SECRET, SEND_TIMEOUT_S, allow_private=True, resolve=gone)
    try:
        with pytest.raises(TargetUnresolved):
            sender.post(f"http://{HOST}:{urlsplit(first.url).port}/hooks", "msg_x", {})
    finally:
        sender.close()
    assert first.requests == []


def test_the_transport_connects_nowhere_without_a_checked_address(
    receivers: tuple[Receiver, Receiver],
) -> None:
    first, _ = receivers
    with (
        httpx.Client(transport=PinnedTransport()) as client,
        pytest.raises(httpx.ConnectError, match="no checked address"),
    ):
        client.post(first.url, json={})
    assert first.requests == []


@dataclass
class TlsServer:
    port: int
    trust: ssl.SSLContext
    """A client context that trusts this server's certificate (for ``HOST`` only)."""
    seen: list[tuple[str | None, str]] = field(default_factory=list)
    """(TLS SNI, Host header) of each request."""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """An HTTPS server on 127.0.0.1 whose certificate names ``HOST`` and nothing else."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}"),
            *("-addext", f"subjectAltName=DNS:{HOST}"),
        ],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    names: dict[int, str | None] = {}

    def remember_sni(sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names[threading.get_ident()] = name

    server_context.sni_callback = remember_sni  # type: ignore[assignment]
    state = TlsServer(port=0, trust=ssl.create_default_context(cafile=str(cert)))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((names.get(threading.get_ident()), self.headers.get("host", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class TlsHttpServer(HTTPServer):
        def get_request(self) -> tuple[socket.socket, Any]:
            conn, addr = super().get_request()
            return server_context.wrap_socket(conn, server_side=True), addr

    server = TlsHttpServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_tls_names_the_host_not_the_pinned_address(tls_server: TlsServer) -> None:
    transport = PinnedTransport(ssl_context=tls_server.trust)
    with httpx.Client(transport=transport) as client, pinned(["127.0.0.1"]):
        answer = client.get(f"https://{HOST}:{tls_server.port}/hooks")
        assert answer.status_code == 204
        assert tls_server.seen == [(HOST, f"{HOST}:{tls_server.port}")]
        # Same address, another name: the certificate is checked against the name asked for.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://other.rebind.test:{tls_server.port}/hooks")
