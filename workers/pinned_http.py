"""HTTP that connects only to addresses already checked: the host is never resolved again.

Why: ``service.webhook_targets.check_target`` resolves a webhook's host and vets every
address. If the HTTP client then resolved the name itself, an answer changed in between
(DNS rebinding: public for the check, 127.0.0.1 for the connection) would carry the
request to loopback, the metadata service or the internal network. So this client cannot
resolve names at all.

How: httpx leaves connecting to httpcore, which asks its network backend to
``connect_tcp(host, port)``. ``PinnedBackend`` connects instead to the addresses pinned
for the request in progress (``with pinned(addresses):``, a context variable, so each
thread's request keeps its own) and refuses when none are pinned. Nothing above the
socket changes: the URL still names the host, so the Host header, TLS SNI and the
certificate check are for the host, and the pool keys kept-alive connections by it (a
reused connection goes to an address vetted when it was opened).

httpx 0.28 has no argument for a network backend, so ``PinnedTransport`` replaces the
httpcore pool its base class built with one made the same way plus this backend; the
tests send through it to a real receiver, so an httpx that stopped using that pool would
fail them rather than quietly resolve again. The other way, rewriting the URL to the IP
with a Host header and the ``sni_hostname`` extension, would key pooled connections by IP,
so a TLS connection verified for one name could be reused for another on the same IP.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
"""httpx's own defaults: the keep-alive expiry (seconds) bounds how long a vetted
connection outlives its check."""

_pinned: ContextVar[tuple[str, ...]] = ContextVar("tellwell_pinned_addresses", default=())


@contextmanager
def pinned(addresses: Sequence[str]) -> Iterator[None]:
    """Connections opened inside go to ``addresses`` (in order), whatever the URL's host."""
    token = _pinned.set(tuple(addresses))
    try:
        yield
    finally:
        _pinned.reset(token)


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, aimed at the pinned addresses instead of a resolved name."""

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _pinned.get()
        if not addresses:
            raise httpcore.ConnectError("no checked address to connect to")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a webhook never goes to a local socket")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport, with no proxy from the environment, connecting through the pins."""

    def __init__(
        self, limits: httpx.Limits = POOL_LIMITS, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """``ssl_context``: the system's trust store unless given (tests pass their own CA)."""
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(),
        )
