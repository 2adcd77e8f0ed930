"""fetch.py and netguard.py against real servers on 127.0.0.x: the feed farm and tiny asyncio servers."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import brotli
import pytest

from monitor.config.settings import FetchSettings
from monitor.errors import BlockedAddress, FeedParseError, FetchError, TooLarge
from monitor.ingest.feeds import parse_feed
from monitor.ingest.fetch import Fetcher, parse_max_age, parse_retry_after
from monitor.ingest.netguard import AllowList, is_public
from tests.farm import Farm

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FARM = SHARED / "tools" / "feedfarm.py"
if not FARM.is_file():
    raise RuntimeError(f"shared material missing: expected {FARM} (clone shared/ beside the repo)")

# 127.0.0.2 is the farm's SSRF canary: this allow-list keeps it blocked.
ALLOW = ("127.0.0.1/32", "127.0.1.0/24")
SETTINGS = FetchSettings(allow_private=ALLOW, timeout_seconds=5, respect_robots=True)
FAULTS = {1: "error500", 2: "retry503", 3: "gone410", 4: "moved301", 5: "redirect-loop", 6: "huge",
          7: "gzip-bomb", 8: "reset", 9: "malformed", 10: "html", 12: "bad-charset", 13: "no-validators"}


@pytest.fixture(scope="module")
def farm():
    faults = [arg for n, kind in FAULTS.items() for arg in ("--fault", f"{n}={kind}")]
    with Farm("--feeds", "16", "--items", "10", *faults) as running:
        yield running.url


def run(coro):
    return asyncio.run(coro)


async def fetch_feed(url, settings=SETTINGS, **kw):
    async with Fetcher(settings) as f:
        return await f.fetch_feed(url, **kw)


# -- the farm ------------------------------------------------------------------------------

def test_conditional_get_gives_304_the_second_time_and_keeps_validators(farm):
    async def go():
        async with Fetcher(SETTINGS) as f:
            first = await f.fetch_feed(f"{farm}/feed/0")
            second = await f.fetch_feed(f"{farm}/feed/0", first.etag, first.last_modified)
            return first, second
    first, second = run(go())
    assert first.status == 200 and not first.not_modified and first.etag and first.last_modified
    assert second.status == 304 and second.not_modified and second.body == b""
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)


def test_last_modified_alone_gives_304(farm):
    first = run(fetch_feed(f"{farm}/feed/0"))
    second = run(fetch_feed(f"{farm}/feed/0", last_modified=first.last_modified))
    assert second.not_modified


def test_gzip_body_is_decoded(farm):
    r = run(fetch_feed(f"{farm}/feed/0"))
    assert r.headers["content-encoding"] == "gzip"
    assert r.body.lstrip().startswith(b"<?xml")
    assert len(parse_feed(r.body, r.url, r.content_type).entries) == 10


def test_http_errors_are_results_with_retry_after(farm):
    assert run(fetch_feed(f"{farm}/feed/1")).status == 500
    busy = run(fetch_feed(f"{farm}/feed/2"))
    assert (busy.status, busy.retry_after) == (503, 120.0)
    assert run(fetch_feed(f"{farm}/feed/3")).status == 410


def test_permanent_redirect_gives_moved_to(farm):
    r = run(fetch_feed(f"{farm}/feed/4"))
    assert r.status == 200 and r.moved_to == f"{farm}/feed/4?moved=1" and r.url == r.moved_to


def test_redirect_loop_is_an_error(farm):
    with pytest.raises(FetchError, match="loop"):
        run(fetch_feed(f"{farm}/feed/5"))


def test_huge_body_is_refused(farm):
    with pytest.raises(TooLarge):
        run(fetch_feed(f"{farm}/feed/6", replace(SETTINGS, max_body_bytes=1 << 20)))


def test_gzip_bomb_is_stopped_at_the_cap_without_inflating_it(farm):
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="decoded"):
            # the farm deflates its 512 MiB bomb on the first request, seconds on a loaded
            # machine: a generous deadline, since this is about the cap, not the clock
            run(fetch_feed(f"{farm}/feed/7", replace(SETTINGS, max_body_bytes=2 << 20, timeout_seconds=60)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 512 MiB inflated; httpx's own decoder would hold ~64 MiB for one network chunk
    assert peak < 16 << 20


def test_connection_reset_is_a_fetch_error(farm):
    with pytest.raises(FetchError):
        run(fetch_feed(f"{farm}/feed/8"))


def test_malformed_feed_still_gives_entries_or_a_parse_error(farm):
    r = run(fetch_feed(f"{farm}/feed/9"))
    try:
        parsed = parse_feed(r.body, r.url, r.content_type)
    except FeedParseError:
        return
    assert parsed.warning and 0 < len(parsed.entries) < 10


def test_html_page_is_not_a_feed(farm):
    r = run(fetch_feed(f"{farm}/feed/10"))
    with pytest.raises(FeedParseError):
        parse_feed(r.body, r.url, r.content_type)


def test_bad_charset_still_parses(farm):
    r = run(fetch_feed(f"{farm}/feed/12"))
    parsed = parse_feed(r.body, r.url, r.content_type)
    assert len(parsed.entries) == 10 and parsed.title.startswith("Outlet")


def test_no_validators_is_plain_200(farm):
    r = run(fetch_feed(f"{farm}/feed/13"))
    assert r.status == 200 and r.etag is None and r.last_modified is None


def test_canary_address_is_blocked(farm):
    async def go():
        async with Fetcher(SETTINGS) as f:
            await f.fetch_page("http://127.0.0.2:9/outlet/1/x.html")
    with pytest.raises(BlockedAddress):
        run(go())


def test_default_settings_block_loopback(farm):
    with pytest.raises(BlockedAddress):
        run(fetch_feed(f"{farm}/feed/0", FetchSettings()))


# -- tiny servers ----------------------------------------------------------------------------

class Tiny:
    """An HTTP/1.1 server on 127.0.0.1 answering from a route table; counts concurrency."""

    def __init__(self, routes, delay: float = 0.0):
        self.routes = routes
        self.delay = delay
        self.active = self.peak = self.hits = 0
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self.writers: set = set()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for w in list(self.writers):
            w.close()
        await self.server.wait_closed()

    async def handle(self, reader, writer):
        self.writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                path = line.split()[1].decode()
                hdrs = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                self.hits += 1
                self.headers.append(hdrs)
                self.paths.append(path)
                self.active += 1
                self.peak = max(self.peak, self.active)
                await asyncio.sleep(self.delay)
                self.active -= 1
                status, extra, body = self.routes(path, self.base)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(head.encode() + b"\r\n" + body)
                await writer.drain()
        except (ConnectionError, IndexError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()


def ok(path, base):
    return 200, {"Content-Type": "application/rss+xml"}, b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def test_redirect_to_a_blocked_address_is_refused():
    async def go():
        async with Tiny(lambda p, b: (302, {"Location": "http://127.0.0.2:9/feed"}, b"")) as srv:
            async with Fetcher(SETTINGS) as f:
                with pytest.raises(BlockedAddress):
                    await f.fetch_feed(srv.base + "/feed")
            return srv.hits
    assert run(go()) == 1


def test_redirect_count_is_capped():
    def chain(path, base):
        n = int(path.rsplit("/", 1)[1])
        return 302, {"Location": f"/r/{n + 1}"}, b""

    async def go():
        async with Tiny(chain) as srv:
            async with Fetcher(replace(SETTINGS, max_redirects=3)) as f:
                with pytest.raises(FetchError, match="more than 3 redirects"):
                    await f.fetch_feed(srv.base + "/r/0")
            return srv.paths
    assert run(go()) == ["/r/0", "/r/1", "/r/2", "/r/3"]


def test_temporary_redirect_is_followed_but_not_a_move():
    def routes(path, base):
        return (302, {"Location": "/new"}, b"") if path == "/old" else ok(path, base)

    async def go():
        async with Tiny(routes) as srv:
            async with Fetcher(SETTINGS) as f:
                return srv.base, await f.fetch_feed(srv.base + "/old")
    base, r = run(go())
    assert r.status == 200 and r.url == base + "/new" and r.moved_to is None


def test_per_host_limit_and_one_request_per_feed():
    async def go():
        async with Tiny(ok, delay=0.05) as srv:
            async with Fetcher(replace(SETTINGS, per_host=2)) as f:
                await asyncio.gather(*(f.fetch_feed(f"{srv.base}/feed/{i}") for i in range(8)))
                per_host = srv.peak
                srv.peak = 0
                await asyncio.gather(*(f.fetch_feed(f"{srv.base}/feed/same") for _ in range(4)))
                return per_host, srv.peak, srv.hits
    per_host, per_feed, hits = run(go())
    assert per_host == 2          # reached, never exceeded
    assert per_feed == 1
    assert hits == 12


def test_user_agent_and_accept_encoding_are_sent():
    async def go():
        async with Tiny(ok) as srv:
            async with Fetcher(SETTINGS) as f:
                await f.fetch_feed(srv.base + "/f")
            return srv.headers[0]
    hdrs = run(go())
    assert hdrs["user-agent"] == SETTINGS.user_agent and "+https://" in hdrs["user-agent"]
    assert {"gzip", "deflate", "br"} <= {x.strip() for x in hdrs["accept-encoding"].split(",")}


@pytest.mark.parametrize("coding,encode", [
    ("br", brotli.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),      # raw deflate, a common server bug
    ("gzip", gzip.compress),
])
def test_content_encodings_are_decoded(coding, encode):
    body = b"<rss version='2.0'><channel><title>" + b"x" * 5000 + b"</title></channel></rss>"

    async def go():
        async with Tiny(lambda p, b: (200, {"Content-Encoding": coding}, encode(body))) as srv:
            async with Fetcher(SETTINGS) as f:
                return await f.fetch_feed(srv.base + "/f")
    assert run(go()).body == body


def test_brotli_bomb_is_capped():
    bomb = brotli.compress(b"\0" * (16 << 20), quality=1)

    async def go():
        async with Tiny(lambda p, b: (200, {"Content-Encoding": "br"}, bomb)) as srv:
            async with Fetcher(replace(SETTINGS, max_body_bytes=1 << 20)) as f:
                await f.fetch_feed(srv.base + "/f")
    with pytest.raises(TooLarge):
        run(go())


def test_slow_server_times_out():
    async def go():
        async with Tiny(ok, delay=3) as srv:
            async with Fetcher(replace(SETTINGS, timeout_seconds=0.3)) as f:
                await f.fetch_feed(srv.base + "/f")
    with pytest.raises(FetchError, match="timeout"):
        run(go())


def test_robots_txt_is_fetched_once_and_respected():
    def routes(path, base):
        if path == "/robots.txt":
            return 200, {}, b"User-agent: monitor\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n"
        return 200, {"Content-Type": "text/html"}, b"<html>page</html>"

    async def go():
        async with Tiny(routes) as srv:
            async with Fetcher(SETTINGS) as f:
                page = await f.fetch_page(srv.base + "/news/1.html")
                await f.fetch_page(srv.base + "/news/2.html")
                with pytest.raises(FetchError, match="robots"):
                    await f.fetch_page(srv.base + "/private/x.html")
            async with Fetcher(replace(SETTINGS, respect_robots=False)) as f:
                await f.fetch_page(srv.base + "/private/x.html")
            return page, srv.paths
    page, paths = run(go())
    assert page.body == b"<html>page</html>"
    assert paths.count("/robots.txt") == 1 and paths[-1] == "/private/x.html"


def test_missing_robots_txt_allows():
    def routes(path, base):
        return (404, {}, b"") if path == "/robots.txt" else (200, {}, b"<html/>")

    async def go():
        async with Tiny(routes) as srv:
            async with Fetcher(SETTINGS) as f:
                return await f.fetch_page(srv.base + "/a")
    assert run(go()).status == 200


# -- pure parts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ip,public", [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("fe80::1", False),
    ("fc00::1", False), ("::ffff:127.0.0.1", False), ("::ffff:8.8.8.8", True), ("ff02::1", False),
])
def test_is_public(ip, public):
    assert is_public(ipaddress.ip_address(ip)) is public


def test_allow_list_by_network_and_host_name():
    allow = AllowList.parse(["127.0.0.1/32", "10.0.0.0/8", "intranet.local"])
    assert allow.allows("x", ipaddress.ip_address("10.9.9.9"))
    assert not allow.allows("x", ipaddress.ip_address("127.0.0.2"))
    assert allow.allows("intranet.local.", ipaddress.ip_address("192.168.0.5"))


def test_localhost_name_is_resolved_and_blocked():
    with pytest.raises(BlockedAddress):
        run(fetch_feed("http://localhost:9/feed", FetchSettings()))


@pytest.mark.parametrize("value,expected", [("120", 120.0), ("", None), ("soon", None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_date_in_the_future():
    assert parse_retry_after("Thu, 01 Jan 2026 00:10:00 GMT", now=1767225600.0) == 600.0


@pytest.mark.parametrize("value,expected", [("max-age=300", 300.0), ("public, s-maxage=10, max-age=60", 60.0),
                                            ("no-cache, max-age=60", None), (None, None), ("private", None)])
def test_parse_max_age(value, expected):
    assert parse_max_age(value) == expected


def test_non_http_scheme_is_refused():
    with pytest.raises(FetchError, match="http"):
        run(fetch_feed("file:///etc/passwd"))
