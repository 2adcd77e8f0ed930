"""The network backend under the httpx client: connect only to addresses the guard approved.

Owns one rule: the address a connection goes to is one the guard resolved and judged
(netguard.Guard.check), never a second, independent DNS answer. Without it, a name with a
zero TTL could resolve to a public address for the guard and to 127.0.0.1 or 169.254.169.254
a moment later for the connection (DNS rebinding). TLS still verifies the certificate
against the host name (httpcore passes it to start_tls separately). Must not decide
whether an address is allowed (netguard does) or speak HTTP (httpx does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from monitor.ingest.netguard import Guard


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves through the guard and connects to the approved addresses, in order."""

    def __init__(self, guard: Guard, inner: httpcore.AsyncNetworkBackend):
        self.guard = guard
        self.inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        ips = await self.guard.check(host, port)          # BlockedAddress if any is not allowed
        last: Exception | None = None
        for ip in ips:
            try:
                return await self.inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def pinned_transport(guard: Guard, limits: httpx.Limits, verify: Any = True) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, with its connection pool's network backend pinned to the guard.

    `verify`: as httpx takes it (True, or an `ssl.SSLContext` to share between transports)."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=verify)
    pool = transport._pool                                 # httpcore.AsyncConnectionPool
    pool._network_backend = PinnedBackend(guard, pool._network_backend)
    return transport
