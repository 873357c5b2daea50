"""Which webhook targets pass: public addresses only, judged on one resolution of the host.

The resolver is passed in, as it is to the sender, so a host can answer differently on
each lookup (DNS rebinding) without a DNS server; no test here sends anything.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

import pytest

from service.webhook_targets import TargetRefused, TargetUnresolved, check_target

PUBLIC_V4 = "93.184.216.34"


def teredo(server: str, client: str) -> str:
    """A Teredo address: prefix, server IPv4, flags and port, then the client IPv4 inverted."""
    value = (0x2001_0000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48)
    return str(ipaddress.IPv6Address(value | (~int(ipaddress.IPv4Address(client)) & 0xFFFF_FFFF)))


class Rebinding:
    """A host whose answers change from one lookup to the next, as an attacker's DNS would."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        f"http://[{teredo(PUBLIC_V4, '127.0.0.1')}]/",  # Teredo, loopback client
        f"http://[{teredo('10.0.0.1', PUBLIC_V4)}]/",  # Teredo, private server
        "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated): refused outright
        f"http://[::{PUBLIC_V4}]/",
        "http://[::ffff:0:7f00:1]/",  # SIIT-translated: refused outright
        "http://[64:ff9b:1::5db8:d822]/",  # local-use NAT64: refused outright
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_ipv6_forms_that_lead_to_a_private_ipv4_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_target(url, allow_private=False)
    assert not isinstance(refused.value, TargetUnresolved)


@pytest.mark.parametrize(
    "address",
    [
        f"64:ff9b::{PUBLIC_V4}",  # what DNS64 gives an IPv6-only network for a public host
        "2002:5db8:d822::1",
        teredo("65.54.227.120", PUBLIC_V4),
    ],
)
def test_ipv6_forms_of_a_public_ipv4_pass(address: str) -> None:
    checked = check_target(f"https://[{address}]/hooks", allow_private=False)
    assert checked.addresses == (str(ipaddress.IPv6Address(address)),)


def test_the_host_is_resolved_once_and_the_addresses_checked_are_returned() -> None:
    rebinding = Rebinding([PUBLIC_V4], ["127.0.0.1"])
    checked = check_target(
        "https://hooks.example.org:8443/status", allow_private=False, resolve=rebinding
    )
    assert checked.addresses == (PUBLIC_V4,)
    assert rebinding.lookups == [("hooks.example.org", 8443)]
    # The next lookup is the rebinding one: a fresh check refuses it.
    with pytest.raises(TargetRefused, match=re.escape("127.0.0.1")):
        check_target(
            "https://hooks.example.org:8443/status", allow_private=False, resolve=rebinding
        )


def test_one_private_answer_among_public_ones_refuses_the_host() -> None:
    mixed = Rebinding([PUBLIC_V4, "2606:2800:220:1::", "10.0.0.7"])
    with pytest.raises(TargetRefused, match=re.escape("10.0.0.7")):
        check_target("https://hooks.example.org/", allow_private=False, resolve=mixed)


def test_a_name_that_does_not_resolve_is_unresolved_not_refused_for_good() -> None:
    def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    for allow_private in (False, True):
        with pytest.raises(TargetUnresolved):
            check_target("https://hooks.example.org/", allow_private=allow_private, resolve=nowhere)


def test_private_targets_allowed_still_return_the_addresses_to_pin() -> None:
    checked = check_target(
        "http://hooks.internal:8080/", allow_private=True, resolve=Rebinding(["10.1.2.3"])
    )
    assert checked.addresses == ("10.1.2.3",)
