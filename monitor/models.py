"""The records that flow between pipeline stages: frozen dataclasses, no behaviour.

Stages take records and return records; only `store` turns them into rows.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    """One item of a parsed feed, before its page is fetched."""

    feed_url: str
    guid: str                   # the feed's id/guid, else the link, else a hash of title+summary
    url: str                    # the item's link, absolute, as the feed gives it
    title: str = ""
    summary: str = ""           # plain text (HTML stripped)
    content: str = ""           # plain text of full content where the feed carries it
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """What a feed document says: its entries and publishing hints."""

    title: str = ""
    entries: tuple[Entry, ...] = ()
    ttl_minutes: int | None = None      # RSS <ttl>
    format: str = ""                    # rss20, atom10, rss10, json11, ...
    warning: str | None = None          # lenient parse: what was wrong with the document


@dataclass(frozen=True)
class Extracted:
    """What extraction found in an article page."""

    text: str = ""
    title: str = ""
    author: str = ""
    date: str = ""              # ISO date as found on the page
    published: str = ""         # ISO timestamp of the page's own metadata on that date, else `date`
                                # (only when asked: `extract(..., published=True)`)
    sitename: str = ""
    language: str = ""          # ISO 639-1, detected when the page does not say
    canonical_url: str = ""


@dataclass(frozen=True)
class Article:
    """A new article ready to be matched: the entry, plus its extracted page."""

    url: str                    # the canonical URL (tracking stripped, rel=canonical honoured)
    feed_url: str
    guid: str
    title: str
    summary: str = ""
    text: str = ""
    author: str = ""
    published: datetime | None = None
    language: str = ""
    source: str = ""            # site or feed name shown in digests
    feed_tags: tuple[str, ...] = ()
    text_source: str = "page"   # "page" (extracted) or "feed" (from the feed summary/content)


@dataclass(frozen=True)
class Hit:
    """One occurrence of a rule term: field, character offsets in that field's text, text."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Why:
    """A clause of a rule's query that was satisfied, in the rule's own words, with the hits
    that decided it (for a proximity clause, only the occurrences within range, and each
    side on its own in `sides`)."""

    clause: str
    hits: tuple[Hit, ...] = ()
    sides: tuple[Why, ...] = ()
    branch: int = 0             # which top-level OR branch of the query the clause belongs to

    def all_hits(self) -> tuple[Hit, ...]:
        return self.hits + tuple(h for s in self.sides for h in s.all_hits())


@dataclass(frozen=True)
class Match:
    """A rule that fired on an article, with the hits that explain it.

    `hits` are every counted occurrence (capped for a huge article; `hit_count` is the
    full number), `why` the satisfied clauses and their decisive hits (a subset of `hits`).
    """

    rule: str
    priority: str = "normal"
    title: str = ""
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    hits: tuple[Hit, ...] = field(default_factory=tuple)
    why: tuple[Why, ...] = ()
    hit_count: int = 0

    def decisive_hits(self) -> frozenset[Hit]:
        """The hits of the first satisfied branch's clauses: enough on their own to fire the
        rule, so a digest highlights them and not the context of other branches too."""
        first = self.why[0].branch if self.why else 0
        return frozenset(h for w in self.why if w.branch == first for h in w.all_hits())
