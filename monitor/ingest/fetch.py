"""The one HTTP client of monitor, for feeds and article pages.

Owns: the httpx client and its pool, conditional GET, redirects (followed here, hop by
hop, so the address guard sees every hop), the body cap while streaming and after
decompression, timeouts, the global and per-host concurrency limits, one request per
feed at a time, robots.txt for pages, and turning network failures into FetchError.
HTTP error statuses are values (FetchResult.status), not exceptions: the caller decides.
Must not parse feeds or pages, and must not decide when to poll next (polling.py does).
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import brotli
import httpx

from monitor.config.settings import FetchSettings
from monitor.errors import FetchError, TooLarge
from monitor.ingest.hostpools import HostPools
from monitor.ingest.keyed import KeyedLimits
from monitor.ingest.netguard import Guard
from monitor.ingest.robots import RobotsCache

REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
ACCEPT_FEED = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
               "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
ACCEPT_PAGE = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.I)


@dataclass(frozen=True)
class FetchResult:
    url: str                        # the final URL, after redirects
    status: int
    body: bytes = b""               # decoded (gzip/deflate/br undone), at most max_body_bytes
    headers: dict[str, str] = field(default_factory=dict)   # of the last response, lower-case keys
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    moved_to: str | None = None     # set when every redirect hop was permanent (301/308)
    retry_after: float | None = None    # seconds, from Retry-After (429/503 and others)
    max_age: float | None = None        # seconds, from Cache-Control max-age
    content_type: str = ""
    elapsed: float = 0.0            # seconds from the first request to the last byte, queueing excluded


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def parse_max_age(cache_control: str | None) -> float | None:
    if not cache_control or re.search(r"no-store|no-cache", cache_control, re.I):
        return None
    m = _MAX_AGE.search(cache_control)
    return float(m.group(1)) if m else None


class _Decoder:
    """Content-Encoding undone chunk by chunk, never producing more than the caller's budget.

    httpx's own decoders inflate a whole network chunk at once (64 KiB of a gzip bomb is
    64 MiB); here zlib's max_length and brotli's output_buffer_limit bound every step.
    """

    def __init__(self, content_encoding: str):
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        self.steps = [c for c in reversed(codings) if c in ("gzip", "x-gzip", "deflate", "br")]
        self.objs: list = []
        self.raw: set[int] = set()      # steps switched to raw deflate
        for c in self.steps:
            if c == "br":
                self.objs.append(brotli.Decompressor())
            else:
                # 47 = zlib or gzip header, detected; raw deflate (a common server bug) is retried below
                self.objs.append(zlib.decompressobj(47))

    def feed(self, data: bytes, budget: int) -> bytes:
        """Decode `data`; the result is longer than `budget` only to signal the cap was crossed."""
        for i, obj in enumerate(self.objs):
            data = self._step(i, obj, data, budget)
        return data

    def _step(self, i: int, obj, data: bytes, budget: int) -> bytes:
        try:
            if isinstance(obj, brotli.Decompressor):
                out = obj.process(data, output_buffer_limit=budget + 1)
                while len(out) <= budget and not obj.can_accept_more_data():
                    out += obj.process(b"", output_buffer_limit=budget + 1 - len(out))
                return out
            return obj.decompress(data, budget + 1)
        except zlib.error:
            if self.steps[i] == "deflate" and i not in self.raw:
                self.raw.add(i)
                self.objs[i] = zlib.decompressobj(-15)
                return self._step(i, self.objs[i], data, budget)
            raise FetchError("corrupt compressed body") from None
        except brotli.error:
            raise FetchError("corrupt brotli body") from None


class Fetcher:
    """Async context manager holding the one httpx client; see the module docstring."""

    def __init__(self, settings: FetchSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.guard = Guard(settings.allow_private)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._global = asyncio.Semaphore(max(1, settings.concurrency))
        # per host and per feed URL, each forgotten once idle (article links reach ever new hosts)
        self._hosts = KeyedLimits(lambda: asyncio.Semaphore(max(1, settings.per_host)))
        self._feed_locks = KeyedLimits(asyncio.Lock)
        self.robots = RobotsCache(self._fetch_robots, settings.user_agent,
                                  max_origins=settings.robots_cache_size)

    async def __aenter__(self) -> Fetcher:
        n = max(1, self.settings.concurrency)
        # Pool no larger than the concurrency limit: pool size costs CPU (field notes).
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=30)
        # Connections go only to the addresses the guard judged (no second DNS lookup: rebinding),
        # from one small pool per origin (hostpools.py: httpcore's one pool costs CPU per connection)
        transport = self._transport or HostPools(self.guard, self.settings.per_host, max_origins=n,
                                                 keepalive_expiry=30)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            timeout=httpx.Timeout(self.settings.timeout_seconds),
            limits=limits, follow_redirects=False, trust_env=False, transport=transport)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- public API ---------------------------------------------------------------
    async def fetch_feed(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Conditional GET of a feed; one request per feed URL at a time."""
        headers = {"Accept": ACCEPT_FEED}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._feed_locks.hold(url):
            result = await self._get(url, headers)
        if result.not_modified:
            # a 304 need not repeat the validators; the caller keeps the ones it has
            result = _replace(result, etag=result.etag or etag, last_modified=result.last_modified or last_modified)
        return result

    async def fetch_page(self, url: str) -> FetchResult:
        """GET an article page; FetchError when robots.txt disallows it (respect_robots)."""
        if self.settings.respect_robots and not await self.robots.allowed(url):
            raise FetchError(f"robots.txt disallows {url}")
        return await self._get(url, {"Accept": ACCEPT_PAGE})

    # -- redirects, hop by hop ----------------------------------------------------------
    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        if self._client is None:
            raise RuntimeError("use Fetcher as an async context manager")
        visited = {url}
        moved: str | None = None
        permanent = True
        elapsed = 0.0
        for hop in range(self.settings.max_redirects + 1):
            status, hdrs, body, took = await self._request(url, headers)
            elapsed += took
            location = hdrs.get("location")
            if status not in REDIRECTS or not location:
                return _result(url, status, hdrs, body, moved, elapsed)
            nxt = urljoin(url, location.strip())
            if nxt in visited:
                raise FetchError(f"redirect loop at {nxt}")
            if hop == self.settings.max_redirects:
                break
            permanent = permanent and status in PERMANENT
            moved = nxt if permanent else None
            visited.add(nxt)
            url = nxt
        raise FetchError(f"more than {self.settings.max_redirects} redirects")

    async def _request(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
        """One request, no redirects: guard, limits, deadline, capped streaming read.

        The deadline (timeout_seconds) covers the whole request: resolving, connecting,
        headers and body; waiting for a free slot under the limits is not counted.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"bad port in {url!r}") from None
        try:
            # name resolution is part of the request's deadline too (a resolver can hang)
            async with asyncio.timeout(self.settings.timeout_seconds):
                await self.guard.check(parts.hostname, port)
        except TimeoutError:
            raise FetchError(f"timeout after {self.settings.timeout_seconds:g}s resolving {parts.hostname}") from None
        assert self._client is not None
        async with self._hosts.hold(parts.hostname.lower()), self._global:
            started = time.monotonic()
            try:
                # one deadline for the whole exchange: httpx's timeouts are per read,
                # and a server dripping a byte a second would never trip them
                async with asyncio.timeout(self.settings.timeout_seconds):
                    async with self._client.stream("GET", url, headers=headers) as resp:
                        hdrs = {k.lower(): v for k, v in resp.headers.items()}
                        body = b"" if resp.status_code in REDIRECTS or resp.status_code == 304 \
                            else await self._read(resp, hdrs)
            except TimeoutError:
                raise FetchError(f"timeout after {self.settings.timeout_seconds:g}s: {url}") from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"{type(exc).__name__}: {exc or 'connection failed'} ({url})") from None
            return resp.status_code, hdrs, body, time.monotonic() - started

    async def _read(self, resp: httpx.Response, hdrs: dict[str, str]) -> bytes:
        cap = self.settings.max_body_bytes
        decoder = _Decoder(hdrs.get("content-encoding", ""))
        declared = hdrs.get("content-length", "")
        if not decoder.steps and declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"body of {declared} bytes exceeds the cap of {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        async for raw in resp.aiter_raw():
            data = decoder.feed(raw, cap - size)
            size += len(data)
            if size > cap:
                raise TooLarge(f"body exceeds the cap of {cap} bytes (decoded)")
            chunks.append(data)
        return b"".join(chunks)

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        result = await self._get(url, {"Accept": "text/plain"})
        return result.status, result.body


def _result(url: str, status: int, hdrs: dict[str, str], body: bytes, moved: str | None,
            elapsed: float) -> FetchResult:
    retry = parse_retry_after(hdrs.get("retry-after")) if status in (429, 503) or status >= 500 else None
    return FetchResult(
        url=url, status=status, body=body, headers=hdrs, etag=hdrs.get("etag"),
        last_modified=hdrs.get("last-modified"), not_modified=status == 304, moved_to=moved,
        retry_after=retry, max_age=parse_max_age(hdrs.get("cache-control")),
        content_type=hdrs.get("content-type", ""), elapsed=elapsed)


def _replace(result: FetchResult, **changes) -> FetchResult:
    from dataclasses import replace
    return replace(result, **changes)


def fetch_page_blocking(url: str, settings: FetchSettings) -> FetchResult:
    """One page through the guarded client, for commands outside the daemon (extract, rules test).

    Raises FetchError for network errors, blocked addresses, caps and HTTP errors.
    """
    async def go() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch_page(url)

    result = asyncio.run(go())
    if result.status >= 400:
        raise FetchError(f"HTTP {result.status} for {url}")
    return result
