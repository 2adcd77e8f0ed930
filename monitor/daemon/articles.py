"""A feed's entries as Articles: pages fetched and extracted until the feed's deadline.

Owns the per-entry half of a poll: fetching each new (or re-published) entry's page,
extracting it in the worker pool, falling back to the feed's own text (never losing an
entry), clipping what is stored, the article's canonical URL and source name; also
parsing and keying the feed in the pool and dropping articles already stored. Moved out
of daemon/pipeline.py, which wires these to the store. Must not write to the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor import metrics
from monitor.daemon.analysis import parse_and_key
from monitor.errors import FeedParseError, FetchError
from monitor.extract import pool
from monitor.extract.article import MAX_TITLE_CHARS, article_text, clip, extract
from monitor.extract.pool import WorkerFailed
from monitor.ingest.fetch import FetchResult
from monitor.models import Article, Entry, Extracted, ParsedFeed
from monitor.stories import dedupe

if TYPE_CHECKING:
    from monitor.daemon.pipeline import Deps

log = logging.getLogger("monitor.daemon.pipeline")


async def build_until(deps: Deps, feed: dict, parsed: ParsedFeed, new: list[Entry],
                       republished: list[tuple[Entry, dict]], deadline: float, keys: dict[str, str] | None = None,
                       ) -> tuple[list[Article | None], list[Article | None], set[str]]:
    """Fetch and extract the new and re-published entries' pages until the feed's deadline.

    Returns the articles of the new entries and of the re-published ones (None where a
    page was not finished) and the GUIDs left unfinished at the deadline. `keys` are the
    entries' article keys (canonical URLs) computed with the parse, by GUID.
    """
    entries = [*new, *(e for e, _ in republished)]
    keys = keys or {}
    if feed_content_only(deps, feed):     # nothing to wait for
        built: list[Article | None] = [_article(deps, feed, e, parsed.title, None, keys.get(e.guid))
                                       for e in entries]
        return built[:len(new)], built[len(new):], set()
    tasks = [asyncio.ensure_future(_build_article(deps, feed, e, parsed.title, keys.get(e.guid))) for e in entries]
    if not tasks:
        return [], [], set()
    try:
        done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    except asyncio.CancelledError:
        # the feed job was cancelled (shutdown, its job deadline): its page fetches end with it,
        # not later on a closed client
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    out = [t.result() if t in done else None for t in tasks]   # a bug in one page fails the feed, as before
    left = {e.guid for e, t in zip(entries, tasks) if t not in done}
    return out[:len(new)], out[len(new):], left


def feed_content_only(deps: Deps, feed: dict) -> bool:
    """No page is fetched for this feed's entries: each article is built from the feed's own text, at
    once (no await), under the URL its entry was keyed with at the parse."""
    return not (feed["full_text"] and deps.config.fetch.full_text)


async def parse(deps: Deps, result: FetchResult, feed_url: str) -> tuple[ParsedFeed, dict[str, str]]:
    """Parse, and key each entry (its canonical URL), in the worker pool when there is one
    (feedparser is the cold cycle's main CPU cost; the keys are pure per-entry work too)."""
    args = (result.body, result.url, result.content_type, deps.config.fetch.max_entries_per_feed, feed_url)
    if deps.extractor is None:
        return await asyncio.to_thread(parse_and_key, *args)
    try:
        # ahead of every feed's pages and analyses (which wait by their feed's deadline): a parse is
        # short, and the feed's page fetches, which overlap the others' extraction, start only after it
        with pool.by_deadline(time.monotonic()):
            return await deps.extractor.call(parse_and_key, *args, what=result.url)
    except WorkerFailed as exc:
        raise FeedParseError(str(exc)) from None


async def _build_article(deps: Deps, feed: dict, entry: Entry, feed_title: str = "",
                         key: str | None = None) -> Article | None:
    """The entry plus its extracted page; falls back to the feed's own text, never loses it."""
    full_text = bool(feed["full_text"]) and deps.config.fetch.full_text
    extracted = None
    if full_text and entry.url:
        try:
            page = await deps.fetcher.fetch_page(entry.url)
            metrics.fetched("page", page.elapsed)
            if page.status < 400 and "html" in (page.content_type or "html"):
                # bytes, so extraction reads the page's own charset declaration
                extracted = await _extract(deps, page.body, page.url)
        except FetchError as exc:
            log.info("page not fetched, using the feed's text: %s: %s", entry.url, exc)
    return _article(deps, feed, entry, feed_title, extracted, key)


def _article(deps: Deps, feed: dict, entry: Entry, feed_title: str, extracted: Extracted | None,
             key: str | None) -> Article:
    """The Article of an entry and its extracted page (or None); `key`: its key without a page."""
    text, source = article_text(extracted, entry.summary, entry.content)
    page_canonical = extracted.canonical_url if extracted else None
    cap = deps.config.fetch.max_article_chars        # one 6 MB item must not cost 6 MB a poll
    return Article(
        url=key if key is not None and not page_canonical
        else dedupe.item_url(entry.url or entry.guid, feed["url"], page_canonical),
        feed_url=feed["url"], guid=entry.guid,
        title=clip(entry.title or (extracted.title if extracted else "") or "(untitled)", MAX_TITLE_CHARS),
        summary=clip(entry.summary, cap), text=clip(text, cap), author=entry.author or (extracted.author if extracted else ""),
        published=entry.published or entry.updated,
        language=(extracted.language if extracted else "") or "",
        source=feed["name"] or feed_title or (extracted.sitename if extracted else "") or _host(feed["url"]),
        feed_tags=tuple(feed["tags"]), text_source=source)


async def _extract(deps: Deps, html: bytes, url: str):
    if deps.extractor is not None:
        return await deps.extractor.extract(html, url)
    return await asyncio.to_thread(extract, html, url)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def unique(deps: Deps, articles: list[Article], checked: Collection[str] = (),
           known: Collection[str] = ()) -> list[Article]:
    """Drop articles whose canonical URL is already stored or repeats within this batch.

    `checked`: URLs whose being stored was asked already (with the poll's first query), `known` those
    of them that are; only the others are asked now (feed content only: none, no round trip)."""
    ask = {a.url for a in articles} - set(checked)
    out, seen = [], set(known) | (deps.store.known_urls(ask) if ask else set())
    for a in articles:
        if a.url not in seen:
            seen.add(a.url)
            out.append(a)
    return out
