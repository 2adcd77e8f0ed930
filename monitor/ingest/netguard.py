"""The address guard: may monitor connect to this host?

Owns the decision "is this address public, or explicitly allowed?", taken after DNS
resolution (a public-looking name can resolve to 10.0.0.1 or 127.0.0.1) and applied by
fetch.py to every redirect hop. Non-public means private, loopback, link-local, multicast,
reserved, unspecified, shared (CGNAT), site-local and IPv4-mapped forms of those.
Must not fetch anything: it only resolves names and compares addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

from monitor.errors import BlockedAddress, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CACHE_SECONDS = 60.0


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(ip.ipv4_mapped)
    # is_global is False for private, loopback, link-local, reserved, shared 100.64/10 ...;
    # multicast can be "global" by that definition but is never a web server.
    return ip.is_global and not ip.is_multicast and not ip.is_unspecified


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
        self._cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        host = host.strip("[]")
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        hit = self._cache.get((host, port))
        if hit and hit[0] > time.monotonic():
            return hit[1]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host}: {exc}") from None
        ips = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
        self._cache[(host, port)] = (time.monotonic() + _CACHE_SECONDS, ips)
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
