"""Public links behind a proxy that serves Tellwell under a path prefix.

The base URL ``https://clinic.example.org/tw`` is what patients and Twilio reach; every link
must keep the ``/tw``, and a page's relative audio link must resolve to the same place.
"""

from __future__ import annotations

from urllib.parse import urljoin

import pytest

from service.links import LinkError, Links

BASE = "https://clinic.example.org/tw"
SECRET = "test-signing-key"
TTL_S = 3600


class FixedClock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000.0)


@pytest.fixture
def links(clock: FixedClock) -> Links:
    return Links(BASE + "/", SECRET, TTL_S, clock)


def test_every_outside_url_keeps_the_prefix(links: Links) -> None:
    urls = [
        links.reminder("r1"),
        links.audio("k", "phone"),
        links.listen("r1"),
        links.twilio_voice("a1"),
        links.twilio_gather("a1"),
        links.twilio_status("a1"),
        links.twilio_sms_status("a1"),
    ]
    assert all(url.startswith(BASE + "/") for url in urls), urls
    assert links.twilio_gather("a1") == BASE + "/v1/twilio/gather?attempt=a1"
    assert links.public_url("/v1/twilio/status", "attempt=a1") == links.twilio_status("a1")
    assert links.twilio_sms_status("a1") == BASE + "/v1/twilio/sms/status?attempt=a1"


@pytest.mark.parametrize("page", ["/listen/some-token", "/console/reminders/r1", "/console/"])
def test_a_page_relative_audio_link_resolves_to_the_same_audio(links: Links, page: str) -> None:
    relative = links.audio_for_page("k", "app", page)
    assert not relative.startswith("/")
    assert urljoin(BASE + page, relative) == links.audio("k", "app")


def test_tokens_open_until_they_expire(links: Links, clock: FixedClock) -> None:
    token = links.audio("k", "phone").rsplit("/", 1)[1]
    listen = links.listen("r1").rsplit("/", 1)[1]
    assert links.open_audio(token) == ("k", "phone")
    assert links.open_listen(listen) == "r1"
    clock.at += TTL_S + 1
    with pytest.raises(LinkError, match="expired"):
        links.open_audio(token)


def test_a_token_of_one_kind_or_another_secret_does_not_open(links: Links) -> None:
    listen = links.listen("r1").rsplit("/", 1)[1]
    forged = Links(BASE, "another-secret", TTL_S).audio("k", "phone").rsplit("/", 1)[1]
    for token in (listen, forged, "not-a-token"):
        with pytest.raises(LinkError, match="invalid"):
            links.open_audio(token)
