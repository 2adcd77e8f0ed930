"""ingest/hostpools.py against the feed farm on several 127.0.1.x hosts: one pool per origin, bounded."""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

import pytest

from monitor.config.settings import FetchSettings
from monitor.ingest.fetch import Fetcher
from monitor.ingest.hostpools import HostPools
from tests.farm import Farm

ALLOW = ("127.0.0.1/32", "127.0.1.0/24")
SETTINGS = FetchSettings(allow_private=ALLOW, timeout_seconds=5, respect_robots=False)


@pytest.fixture(scope="module")
def feeds():
    with Farm("--feeds", "8", "--items", "3", "--hosts", "4") as running:
        yield urllib.request.urlopen(f"{running.url}/feeds.txt").read().decode().split()


def test_each_origin_gets_its_own_pool_and_reuses_its_connection(feeds):
    async def go():
        async with Fetcher(replace(SETTINGS, concurrency=10, per_host=2)) as f:
            pools = f._client._transport
            assert isinstance(pools, HostPools)
            first = [await f.fetch_feed(u) for u in feeds]      # one after another: one connection per host
            hosts = {u.split("/")[2] for u in feeds}
            conns = sum(len(p._pool.connections) for p in pools._pools.values())
            again = await asyncio.gather(*(f.fetch_feed(u, r.etag, r.last_modified) for u, r in zip(feeds, first)))
            return first, again, hosts, pools.origins, conns
    first, again, hosts, origins, conns = asyncio.run(go())
    assert len(hosts) == 4 and origins == 4
    assert conns == 4                   # the second feed of a host went over the first one's connection
    assert all(r.status == 200 and r.body for r in first)
    assert all(r.not_modified for r in again)


def test_past_max_origins_the_least_recently_used_idle_pool_is_closed(feeds):
    async def go():
        async with Fetcher(replace(SETTINGS, concurrency=2, per_host=1)) as f:
            pools = f._client._transport
            seen = []
            for u in feeds:                 # 4 hosts, at most 2 pools
                r = await f.fetch_feed(u)
                seen.append((r.status, pools.origins))
            return seen
    seen = asyncio.run(go())
    assert all(status == 200 for status, _ in seen)
    assert max(n for _, n in seen) == 2


def test_a_closed_transport_refuses_new_origins():
    async def go():
        pools = HostPools(guard=None, per_host=1, max_origins=1)    # type: ignore[arg-type]
        await pools.aclose()
        with pytest.raises(RuntimeError):
            pools._new_pool()
    asyncio.run(go())
