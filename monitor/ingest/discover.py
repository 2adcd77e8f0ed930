"""Is this URL a feed, and if it is a web page, which feeds does it point to?

Owns what `monitor feeds add` learns from one look at a URL, as Miniflux does: fetch it
once through the daemon's guarded client; a feed is parsed (title, entries, its final
URL after permanent redirects); an HTML page is searched for `<link rel="alternate">`
feeds, then common feed paths (/feed, /rss.xml, ...) on the same site are tried. Must
not write the config or the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from monitor.errors import FeedParseError, FetchError
from monitor.ingest.feeds import parse_feed
from monitor.ingest.fetch import Fetcher

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "application/xml", "text/xml")
COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml", "/feed/", "/rss/",
                "/feeds/posts/default", "/?feed=rss2")


@dataclass
class Probe:
    """What one look at a URL found: the feed to add (url, title, entries) or why there is none."""

    asked: str
    url: str | None = None          # the feed's URL (after permanent redirects; discovered on a page)
    title: str = ""
    entries: int = 0
    found_on_page: bool = False
    candidates: list[str] = field(default_factory=list)
    problem: str | None = None


class _AlternateLinks(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a"):
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        if tag == "link" and "alternate" in rel and kind in FEED_TYPES and a.get("href"):
            self.links.append(a["href"].strip())


def feed_links(html: bytes | str, base: str) -> list[str]:
    """The feeds an HTML page declares with <link rel="alternate" type="...">, absolute, in order."""
    parser = _AlternateLinks()
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    try:
        parser.feed(text)
    except Exception:  # noqa: BLE001 - a broken page simply declares nothing
        pass
    out: list[str] = []
    for href in parser.links:
        url = urljoin(base, href)
        if url not in out and urlsplit(url).scheme in ("http", "https"):
            out.append(url)
    return out


async def _as_feed(fetcher: Fetcher, url: str, max_entries: int) -> Probe:
    probe = Probe(url)
    try:
        result = await fetcher.fetch_feed(url)
    except FetchError as exc:
        probe.problem = str(exc)
        return probe
    if result.status >= 400:
        probe.problem = f"HTTP {result.status}"
        return probe
    try:
        parsed = parse_feed(result.body, result.url, result.content_type, max_entries)
    except FeedParseError as exc:
        probe.problem = f"not a feed ({result.content_type or 'no content type'}): {exc}"
        probe.candidates = feed_links(result.body, result.url) if b"<" in result.body[:2048] else []
        return probe
    probe.url = result.moved_to or url
    probe.title, probe.entries = parsed.title, len(parsed.entries)
    return probe


async def probe(fetcher: Fetcher, url: str, max_entries: int = 200) -> Probe:
    """Look at url once; on an HTML page, find its feed (declared links first, then common paths)."""
    first = await _as_feed(fetcher, url, max_entries)
    if first.url or not (first.problem or "").startswith("not a feed"):
        return first      # a feed, or an error (404, refused, blocked): nothing to discover
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    tried = set()
    for candidate in [*first.candidates, *(origin + p for p in COMMON_PATHS)]:
        if candidate in tried or candidate == url:
            continue
        tried.add(candidate)
        found = await _as_feed(fetcher, candidate, max_entries)
        if found.url:
            found.asked, found.found_on_page = url, True
            found.candidates = first.candidates
            return found
    first.problem = (f"{first.problem}; no feed declared on the page"
                     + (" that could be read" if first.candidates else "") + " or at the usual paths")
    return first
