"""The transport under the fetcher's httpx client: one small connection pool per origin.

Owns routing each request to the pool of its origin (scheme, host, port), each pool
holding at most `per_host` connections (the fetcher's own per-host limit), and keeping
at most `max_origins` pools: past that, the least recently used pool with no request in
flight is closed. httpcore's single pool walks all of its connections for every request
it queues and every response it closes, and twice over for an idle one: with 100
connections that cost the poll's main process about 3 ms of CPU per feed request
(docs/benchmarks.md), more than parsing a feed. Every pool connects through the guard
(pinning.py) and shares one TLS context. Must not decide limits or retries (fetch.py does).
"""

from __future__ import annotations

import ssl
from collections import OrderedDict

import httpx

from monitor.ingest.netguard import Guard
from monitor.ingest.pinning import pinned_transport


class HostPools(httpx.AsyncBaseTransport):
    """`httpx.AsyncBaseTransport` over one pinned `AsyncHTTPTransport` per origin."""

    def __init__(self, guard: Guard, per_host: int, max_origins: int, keepalive_expiry: float = 30.0):
        self.guard = guard
        self.limits = httpx.Limits(max_connections=max(1, per_host), max_keepalive_connections=max(1, per_host),
                                   keepalive_expiry=keepalive_expiry)
        self.max_origins = max(1, max_origins)
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = OrderedDict()
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            await self._evict()
            pool = self._pools[key] = self._new_pool()
        else:
            self._pools.move_to_end(key)
        return await pool.handle_async_request(request)

    def _new_pool(self) -> httpx.AsyncHTTPTransport:
        if self._closed:
            raise RuntimeError("HostPools is closed")
        if self._tls is None:       # one context (its CA bundle read once), not one per origin
            self._tls = httpx.create_ssl_context(trust_env=False)
        return pinned_transport(self.guard, self.limits, verify=self._tls)

    async def _evict(self) -> None:
        """Close least recently used idle pools while there are `max_origins` or more."""
        if len(self._pools) < self.max_origins:
            return
        for key in list(self._pools):
            if len(self._pools) < self.max_origins:
                break
            pool = self._pools[key]
            if _busy(pool):
                continue
            del self._pools[key]
            await pool.aclose()

    @property
    def origins(self) -> int:
        return len(self._pools)

    async def aclose(self) -> None:
        self._closed = True
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.aclose()


def _busy(pool: httpx.AsyncHTTPTransport) -> bool:
    """Whether a request is in flight on the pool (its response not closed yet)."""
    return bool(pool._pool._requests)       # httpcore.AsyncConnectionPool, as in pinning.py
