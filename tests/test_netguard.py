"""The address guard's own classifier: embedded IPv4 judged, no reliance on the stdlib's view.

The fetch tests at the end go through the real Fetcher against a listener on 127.0.0.1
that counts connections: an IPv6 spelling of a refused address must raise BlockedAddress
before any connection is attempted.
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from monitor.config.settings import FetchSettings
from monitor.errors import BlockedAddress
from monitor.ingest import netguard
from monitor.ingest.fetch import Fetcher
from monitor.ingest.netguard import AllowList, Guard, embedded_ipv4, is_public


def teredo(server: str, client: str) -> str:
    s, c = int(ipaddress.IPv4Address(server)), int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (s << 64) | (0x8000 << 48) | (0x63bf << 32) | c))


REFUSED = [
    # NAT64 well-known prefix with a private, loopback or metadata address inside
    "64:ff9b::7f00:1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::192.168.1.1",
    # NAT64 local-use prefix: refused outright
    "64:ff9b:1::a00:1", "64:ff9b:1::808:808", "64:ff9b:1:ffff::1",
    # 6to4 with a non-public IPv4 in bits 16-47
    "2002:7f00:1::", "2002:a00:1::1", "2002:c0a8:101::53", "2002:a9fe:a9fe::",
    # IPv4-compatible, IPv4-mapped, IPv4-translated
    "::127.0.0.1", "::10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:0:127.0.0.1", "::ffff:0:10.1.2.3", "::ffff:0:169.254.169.254",
    # Teredo with a non-public client or server
    teredo("65.54.227.120", "10.0.0.1"), teredo("127.0.0.1", "8.8.8.8"),
    # ISATAP interface id embedding a private address, under a public prefix
    "2a00:1450::5efe:a00:1", "2a00:1450::200:5efe:c0a8:101",
    # site-local, unique-local, link-local, multicast, documentation, discard, reserved
    "fec0::1", "feff::1", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "ff0e::1",
    "2001:db8::1", "3fff::1", "100::1", "::", "::1", "::1:0:0:1", "4000::1", "2001:2::1",
    # IPv4 table
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "127.255.255.254", "169.254.169.254",
    "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.0.1",
    "198.18.0.1", "198.51.100.1", "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255",
]
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "192.0.3.1",
    "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:4860:4860::8888",
    "64:ff9b::8.8.8.8", "2002:808:808::1", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8",
    teredo("65.54.227.120", "8.8.8.8"), "2a00:1450::200:5efe:808:808",
]


@pytest.mark.parametrize("ip", REFUSED)
def test_refused(ip):
    assert is_public(ipaddress.ip_address(ip)) is False


@pytest.mark.parametrize("ip", PUBLIC)
def test_public(ip):
    assert is_public(ipaddress.ip_address(ip)) is True


def test_embedded_ipv4_is_unwrapped_from_every_form():
    v4 = ipaddress.IPv4Address("10.0.0.1")
    for ip in ("64:ff9b::10.0.0.1", "2002:a00:1::", "::10.0.0.1", "::ffff:10.0.0.1", "::ffff:0:10.0.0.1",
               "2a00:1450::5efe:10.0.0.1"):
        assert v4 in embedded_ipv4(ipaddress.IPv6Address(ip)), ip
    assert embedded_ipv4(ipaddress.IPv6Address(teredo("65.54.227.120", "10.0.0.1"))) == (
        ipaddress.IPv4Address("65.54.227.120"), v4)
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) == ()


def test_the_classifier_does_not_ask_the_standard_library(monkeypatch):
    """Python patch releases changed is_private/is_global; the guard must give the same answers."""
    expected = {ip: is_public(ipaddress.ip_address(ip)) for ip in REFUSED + PUBLIC}
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        for prop in ("is_private", "is_global", "is_reserved", "is_loopback", "is_link_local",
                     "is_multicast", "is_unspecified", "is_site_local"):
            if hasattr(cls, prop):
                monkeypatch.setattr(cls, prop, property(lambda self: (int(self) % 2) == 0))
    assert {ip: is_public(ipaddress.ip_address(ip)) for ip in expected} == expected


def test_allow_list_unwraps_mapped_but_not_relayed_forms():
    allow = AllowList.parse(["127.0.0.1/32"])
    assert allow.allows("x", ipaddress.ip_address("::ffff:127.0.0.1"))      # the same socket address
    assert not allow.allows("x", ipaddress.ip_address("64:ff9b::127.0.0.1"))  # a NAT64 gateway's loopback
    assert not allow.allows("x", ipaddress.ip_address("2002:7f00:1::"))


def test_dns_cache_is_bounded():
    async def go():
        guard = Guard()
        for i in range(netguard._CACHE_ENTRIES + 50):
            guard._cache[(f"h{i}", 80)] = (1e18, [])
        await guard.resolve("localhost", 80)
        return len(guard._cache)
    assert asyncio.run(go()) <= netguard._CACHE_ENTRIES


@pytest.mark.parametrize("literal", ["[64:ff9b::7f00:1]", "[::ffff:0:7f00:1]", "[::7f00:1]", "[2002:7f00:1::]",
                                     "[fec0::1]", "[64:ff9b:1::7f00:1]"])
def test_fetcher_refuses_ipv6_spellings_of_loopback(literal):
    """Through the real Fetcher: refused before connecting, with 127.0.0.1 itself allowed."""
    connections = []

    async def go():
        async def handle(reader, writer):
            connections.append(1)
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Fetcher(FetchSettings(allow_private=("127.0.0.1/32",), timeout_seconds=3)) as f:
                with pytest.raises(BlockedAddress, match="non-public"):
                    await f.fetch_feed(f"http://{literal}:{port}/feed")
        finally:
            server.close()
            await server.wait_closed()
    asyncio.run(go())
    assert connections == []


def test_connections_go_to_the_address_the_guard_judged():
    """DNS rebinding: the guard's answer is the one connected to, never a second lookup.

    The guard's cache is given an answer for a name no DNS server knows (`.invalid`, RFC
    6761): the fetch can only succeed if the connection uses the guard's address.
    """
    import time

    async def go():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\n"
                         b"Connection: close\r\n\r\n<p>ok</p>")
            await writer.drain()
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            settings = FetchSettings(allow_private=("127.0.0.1/32",), timeout_seconds=5, respect_robots=False)
            async with Fetcher(settings) as f:
                f.guard._cache[("rebind.invalid", port)] = (time.monotonic() + 60, [ipaddress.ip_address("127.0.0.1")])
                page = await f.fetch_page(f"http://rebind.invalid:{port}/a")
                f.guard._cache[("rebind2.invalid", port)] = (time.monotonic() + 60, [ipaddress.ip_address("127.0.0.2")])
                with pytest.raises(BlockedAddress):
                    await f.fetch_page(f"http://rebind2.invalid:{port}/a")
                return page
        finally:
            server.close()
            await server.wait_closed()
    page = asyncio.run(go())
    assert page.status == 200 and page.body == b"<p>ok</p>"


def test_per_host_limits_are_forgotten_when_idle_and_still_limit():
    """The fetcher's per-host semaphores and per-feed locks do not grow with every host seen."""
    from monitor.ingest.keyed import KeyedLimits

    async def go():
        limits = KeyedLimits(lambda: asyncio.Semaphore(2))
        inside, peak = 0, 0

        async def one(host):
            nonlocal inside, peak
            async with limits.hold(host):
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1
        await asyncio.gather(*(one("same.example") for _ in range(10)))
        same_peak = peak
        await asyncio.gather(*(one(f"h{i}.example") for i in range(500)))
        return same_peak, len(limits)
    same_peak, left = asyncio.run(go())
    assert same_peak == 2 and left == 0
