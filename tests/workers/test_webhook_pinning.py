"""The sender connects to the address it checked, never to a second answer for the name.

Two real receivers listen on the same port at 127.0.0.1 and 127.0.0.2; the host name is
one the system cannot resolve (``.test``), and the resolver handed to the sender answers
first one address, then the other, as a rebinding DNS server would. Private targets are
allowed here only because both receivers are on loopback; the pinning is the same either
way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import httpx
import pytest

from service.webhook_targets import TargetUnresolved
from tests.support.webhook_receiver import SECRET, Receiver, running_receiver
from workers.pinned_http import PinnedTransport
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
