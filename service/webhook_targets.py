"""Where a webhook may go: only to http(s) hosts that resolve to public addresses.

A webhook URL is input from outside (a scheduler's ``callback_url``, the app backend's
URL) and must not reach the cloud metadata service or the hospital's internal network.
The API refuses such a URL when it is given; the sender checks it again before each
request, because what a name resolves to can change, and then connects to exactly the
addresses this check returned (``workers.pinned_http``): the name is resolved once per
request, so an answer that changes between the check and the connection (DNS rebinding)
reaches nothing.

IPv6 addresses that carry an IPv4 address are judged by the IPv4 one they lead to:
IPv4-mapped ``::ffff:0:0/96``, NAT64 ``64:ff9b::/96`` (an IPv6-only network's DNS64
gives these for every IPv4 host, so public ones must pass), 6to4 ``2002::/16`` and Teredo
``2001::/32`` (server and client; the client's address is stored inverted). Forms whose
IPv4 part cannot be placed, or that have no public use, are refused outright: local-use
NAT64 ``64:ff9b:1::/48`` (the operator picks where the IPv4 sits), the deprecated
IPv4-compatible ``::a.b.c.d`` and the SIIT-translated ``::ffff:0:a.b.c.d``.

Exception tree::

    ServiceError
    └── TargetRefused        not an http(s) URL, or it names a non-public address
        └── TargetUnresolved the host name does not resolve (now); it may later
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.errors import ServiceError

DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
TEREDO = ipaddress.IPv6Network("2001::/32")
REFUSED_OUTRIGHT = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64: the IPv4 part can't be placed
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # SIIT IPv4-translated
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated), and :: and ::1
)

Resolver = Callable[[str, int], Sequence[str]]
"""A host name and port to the IP addresses (text) it resolves to."""


class TargetRefused(ServiceError):
    """The URL may not be sent to; no request was made."""


class TargetUnresolved(TargetRefused):
    """The host name did not resolve (now): nothing sent; it may resolve later."""


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer (``socket.getaddrinfo``), scope ids dropped."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed, with the addresses its host resolved to when it was checked."""

    url: str
    addresses: tuple[str, ...]
    """Connect only to these: resolving the host again could give another answer."""


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be sent to, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            for ipv4 in embedded:
                if refusal(ipv4) is not None:
                    return f"{address} leads to the non-public address {ipv4}"
            return None
        if any(address in network for network in REFUSED_OUTRIGHT):
            return f"{address} embeds an IPv4 address in a form that is never public"
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses traffic to ``address`` really goes to, for the forms that say."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in NAT64:
        return (ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF),)
    if address in SIX_TO_FOUR and address.sixtofour is not None:
        return (address.sixtofour,)
    if address in TEREDO and address.teredo is not None:
        return address.teredo  # (server, client)
    return None


def check_target(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolver
) -> CheckedTarget:
    """Resolve the URL's host once and refuse it unless every address is public.

    With ``allow_private`` any address passes, but the host is still resolved here and
    the addresses returned, so the sender connects the same way either way.
    """
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise TargetRefused("not an http(s) URL with a host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        answers = resolve(parts.hostname, port)
        addresses = [ipaddress.ip_address(answer) for answer in answers]
    except (OSError, ValueError, UnicodeError) as err:
        raise TargetUnresolved("the host does not resolve") from err
    if not addresses:
        raise TargetUnresolved("the host does not resolve")
    if not allow_private:
        # Every address is checked: a host may resolve to one public and one private.
        for address in addresses:
            if (reason := refusal(address)) is not None:
                raise TargetRefused(f"the host resolves to a non-public address: {reason}")
    unique = tuple(dict.fromkeys(str(address) for address in addresses))
    return CheckedTarget(url=url, addresses=unique)
