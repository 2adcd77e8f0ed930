"""The address guard: may monitor connect to this host?

Owns the decision "is this address public, or explicitly allowed?", taken after DNS
resolution (a public-looking name can resolve to 10.0.0.1 or 127.0.0.1) and applied by
fetch.py to every redirect hop. Non-public means private, loopback, link-local, multicast,
reserved, unspecified, shared (CGNAT), benchmarking, documentation, site-local, unique-local,
discard-only, and every IPv6 form that embeds or translates an IPv4 address whose embedded
address is one of those: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`, Teredo
(server and client) and ISATAP interface ids; the local-use NAT64 prefix `64:ff9b:1::/48`
is refused outright (its embedding depends on the operator's prefix length).
The classification is this module's own table (IANA special-purpose registries), not
`ipaddress`' `is_private`/`is_global`, whose answers change between Python patch releases.
Must not fetch anything: it only resolves names and compares addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass

from monitor.errors import BlockedAddress, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CACHE_SECONDS = 60.0
_CACHE_ENTRIES = 4096           # resolved names kept (least recently used evicted)

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
NON_PUBLIC_V4 = tuple(_V4(n) for n in (
    "0.0.0.0/8",          # "this network", 0.0.0.0
    "10.0.0.0/8",         # private
    "100.64.0.0/10",      # shared address space (carrier-grade NAT)
    "127.0.0.0/8",        # loopback
    "169.254.0.0/16",     # link-local (cloud metadata lives here)
    "172.16.0.0/12",      # private
    "192.0.0.0/24",       # IETF protocol assignments
    "192.0.2.0/24",       # documentation TEST-NET-1
    "192.88.99.0/24",     # 6to4 relay anycast (deprecated)
    "192.168.0.0/16",     # private
    "198.18.0.0/15",      # benchmarking
    "198.51.100.0/24",    # documentation TEST-NET-2
    "203.0.113.0/24",     # documentation TEST-NET-3
    "224.0.0.0/4",        # multicast
    "240.0.0.0/4",        # reserved, and the limited broadcast 255.255.255.255
))
GLOBAL_UNICAST_V6 = _V6("2000::/3")
NON_PUBLIC_V6 = tuple(_V6(n) for n in (
    "2001::/23",          # IETF protocol assignments (Teredo 2001::/32 is unwrapped first)
    "2001:db8::/32",      # documentation
    "2002::/16",          # 6to4: only as the embedded IPv4 says (unwrapped first)
    "3fff::/20",          # documentation (RFC 9637)
    "5f00::/16",          # SRv6 SIDs (RFC 9602)
))
_MAPPED = _V6("::ffff:0:0/96")          # IPv4-mapped
_TRANSLATED = _V6("::ffff:0:0:0/96")    # IPv4-translated (SIIT)
_COMPATIBLE = _V6("::/96")              # IPv4-compatible (deprecated), also :: and ::1
_NAT64 = _V6("64:ff9b::/96")            # NAT64 well-known prefix
_NAT64_LOCAL = _V6("64:ff9b:1::/48")    # NAT64 local-use prefix: refused outright
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")


def _low32(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address embeds or translates to (empty if none).

    A connection to such an address reaches (or is relayed towards) the IPv4 address,
    so the guard judges that address instead of the IPv6 wrapper.
    """
    if ip in _MAPPED or ip in _TRANSLATED or ip in _COMPATIBLE or ip in _NAT64:
        return (_low32(ip),)
    if ip in _SIX_TO_FOUR:
        return (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in _TEREDO:
        server = ipaddress.IPv4Address((int(ip) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~int(ip) & 0xFFFFFFFF)
        return (server, client)
    if (int(ip) >> 32) & 0xFDFFFFFF == 0x00005EFE:    # ISATAP interface id [02]00:5efe:a.b.c.d
        return (_low32(ip),)
    return ()


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    return not any(ip in net for net in NON_PUBLIC_V4)


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet (see the module docstring for what is not)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_v4(ip)
    if ip.scope_id:
        return False                          # fe80::1%eth0 and friends
    embedded = embedded_ipv4(ip)
    if embedded:
        return all(_is_public_v4(v4) for v4 in embedded)
    if ip in _NAT64_LOCAL or ip not in GLOBAL_UNICAST_V6:
        return False                          # ::/8 rest, fc00::/7, fe80::/10, fec0::/10, ff00::/8 ...
    return not any(ip in net for net in NON_PUBLIC_V6)


@dataclass(frozen=True)
class AllowList:
    """Networks and host names that may be reached although they are not public."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, items: tuple[str, ...] | list[str]) -> AllowList:
        nets, hosts = [], set()
        for item in items:
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                hosts.add(item.strip().lower().rstrip("."))
        return cls(tuple(nets), frozenset(hosts))

    def allows(self, host: str, ip: IPAddress) -> bool:
        if is_public(ip) or host.lower().rstrip(".") in self.hosts:
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


class Guard:
    """Resolves a host and refuses it unless every address it resolves to is allowed."""

    def __init__(self, allow_private: tuple[str, ...] | list[str] = ()):
        self.allow = AllowList.parse(allow_private)
        self._cache: OrderedDict[tuple[str, int], tuple[float, list[IPAddress]]] = OrderedDict()

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        host = host.strip("[]")
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        hit = self._cache.get((host, port))
        if hit and hit[0] > time.monotonic():
            self._cache.move_to_end((host, port))
            return hit[1]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host}: {exc}") from None
        ips = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
        self._cache[(host, port)] = (time.monotonic() + _CACHE_SECONDS, ips)
        self._cache.move_to_end((host, port))
        while len(self._cache) > _CACHE_ENTRIES:     # article links reach many hosts: bounded
            self._cache.popitem(last=False)
        return ips

    async def check(self, host: str, port: int) -> list[IPAddress]:
        """The host's addresses; BlockedAddress if any of them is not allowed.

        All of them, not just the first: the connection may use any address getaddrinfo
        returned, so one private address among public ones is enough to refuse.
        """
        ips = await self.resolve(host, port)
        bad = [ip for ip in ips if not self.allow.allows(host, ip)]
        if bad:
            raise BlockedAddress(f"{host} resolves to non-public address {bad[0]} (not in fetch.allow_private)")
        return ips
