"""Where a webhook may go: only to http(s) hosts that resolve to public addresses.

A webhook URL is input from outside (a scheduler's ``callback_url``, the app backend's
URL) and must not reach the cloud metadata service or the hospital's internal network.
The API refuses such a URL when it is given; the sender checks it again before each
request, because what a name resolves to can change.

Exception tree::

    ServiceError
    └── TargetRefused        not an http(s) URL, or it names a non-public address
        └── TargetUnresolved the host name does not resolve (now); it may later
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from service.errors import ServiceError

DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(ServiceError):
    """The URL may not be sent to; no request was made."""


class TargetUnresolved(TargetRefused):
    """The host name did not resolve (now): nothing sent; it may resolve later."""


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to any non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise TargetRefused("not an http(s) URL with a host")
    if allow_private:
        return
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as err:
        raise TargetUnresolved("the host does not resolve") from err
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        # Every address is checked: a host may resolve to one public and one private.
        if not address.is_global or address.is_multicast:
            raise TargetRefused(f"the host resolves to a non-public address ({address})")
