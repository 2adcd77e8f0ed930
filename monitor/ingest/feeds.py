"""Feed documents to records: bytes in, ParsedFeed out.

Owns reading RSS 0.9x/2.0, RSS 1.0/RDF and Atom 0.3/1.0 (through feedparser, or for an
ordinary RSS 2.0 / Atom 1.0 document through ingest/fastfeed.py's re-implementation of its rules, which gives
the same values several times faster and hands feedparser whatever it is unsure of) and
JSON Feed 1.0/1.1 (parsed here: feedparser cannot), leniently: wrong charsets, BOMs,
undeclared entities and relative links still give entries. Text fields come out as
plain text, times as aware UTC datetimes, links absolute.
Must not fetch anything (feedparser is only ever given bytes) and must not touch the store.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.errors import FeedParseError
from monitor.ingest.fastfeed import Unsure, parse_fast
from monitor.models import Entry, ParsedFeed

log = logging.getLogger("monitor.ingest.feeds")

_TAG = re.compile(r"<[^>]*>")
_DROP = re.compile(r"<(script|style|head|template)\b.*?</\1\s*>", re.I | re.S)
_BLOCK = re.compile(r"</?(p|div|br|li|h[1-6]|tr|blockquote|section|article)\b[^>]*>", re.I)
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")


def html_to_text(value: str | None) -> str:
    """Plain text of an HTML fragment (or of plain text with entities): tags out, entities decoded."""
    if not value:
        return ""
    if "<" in value:
        value = _DROP.sub(" ", value)
        value = _BLOCK.sub("\n", value)
        value = _TAG.sub("", value)
    value = html.unescape(value)
    value = _SPACE.sub(" ", value)
    return _LINES.sub("\n", value).strip()


def parse_feed(body: bytes, url: str, content_type: str = "", max_entries: int = 200) -> ParsedFeed:
    """Parse a feed document; FeedParseError when there is nothing a reader could use."""
    head = body[:64].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if head.startswith(b"{") or ("json" in content_type.lower() and not head.startswith(b"<")):
        return parse_json_feed(body, url, max_entries)
    return _parse_xml(body, url, content_type, max_entries)


# -- RSS / Atom / RDF: the fast path, else feedparser --------------------------------

def _parse_xml(body: bytes, url: str, content_type: str, max_entries: int) -> ParsedFeed:
    body = body.lstrip(b"\r\n\t ")
    try:
        feed, entries, version = parse_fast(body, content_type, max_entries)
    except Unsure:
        return _parse_feedparser(body, url, content_type, max_entries)
    except Exception as exc:    # a bug in the fast path must cost speed, never the feed
        log.warning("fast feed parser failed, using feedparser: %s: %s: %s", url, type(exc).__name__, exc)
        return _parse_feedparser(body, url, content_type, max_entries)
    return _parsed(feed, entries, version, None, url)


def _parse_feedparser(body: bytes, url: str, content_type: str, max_entries: int) -> ParsedFeed:
    # No content-location: feedparser would then "resolve" non-URL guids against it.
    # Links are made absolute below; xml:base inside the document still applies.
    headers = {"content-type": content_type} if content_type else {}
    try:
        # sanitize_html off: every text field is reduced to plain text below anyway, and
        # the sanitizer is the slowest part of feedparser.
        d = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                             resolve_relative_uris=False)
    except Exception as exc:  # feedparser is lenient, but a pathological input must not kill a poll
        raise FeedParseError(f"feedparser failed: {type(exc).__name__}: {exc}") from None
    if not d.entries and not d.get("version"):
        reason = d.get("bozo_exception") or "no feed elements"
        raise FeedParseError(f"not a feed: {reason}")
    warning = str(d.get("bozo_exception")) if d.get("bozo") else None
    return _parsed(d.feed, d.entries[:max_entries], d.get("version"), warning, url)


def _parsed(feed: Any, entries: Any, version: str | None, warning: str | None, url: str) -> ParsedFeed:
    """The ParsedFeed of feedparser-shaped values (feedparser's own, or the fast path's mirror of them)."""
    return ParsedFeed(title=html_to_text(feed.get("title", "")), entries=tuple(_xml_entry(e, url) for e in entries),
                      ttl_minutes=_int(feed.get("ttl")), format=version or "unknown", warning=warning)


def _xml_entry(e: Any, feed_url: str) -> Entry:
    link = e.get("link") or ""
    if not link:
        for lk in e.get("links") or ():
            if lk.get("href"):
                link = lk["href"]
                break
    link = urljoin(feed_url, link.strip()) if link else ""
    title = html_to_text(e.get("title"))
    summary = html_to_text(e.get("summary"))
    content = "\n".join(html_to_text(c.get("value")) for c in e.get("content") or () if c.get("value"))
    author = e.get("author") or ""
    # dict.get: FeedParserDict.get("published_parsed") falls back to updated with a DeprecationWarning
    published = _struct(dict.get(e, "published_parsed")) or _struct(dict.get(e, "created_parsed"))
    updated = _struct(dict.get(e, "updated_parsed"))
    link = _bounded_link(link)
    guid = _bounded_guid((e.get("id") or "").strip() or link or _hash_guid(title, summary or content))
    return Entry(feed_url=feed_url, guid=guid, url=link, title=title, summary=summary, content=content,
                 author=html_to_text(author), published=published or updated, updated=updated)


def _struct(t: Any) -> datetime | None:
    if not t:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


# -- JSON Feed 1.0 / 1.1 -----------------------------------------------------------------

def parse_json_feed(body: bytes, url: str, max_entries: int = 200) -> ParsedFeed:
    try:
        doc = json.loads(_decode_json(body))
    except ValueError as exc:
        raise FeedParseError(f"invalid JSON Feed: {exc}") from None
    except RecursionError:
        raise FeedParseError("invalid JSON Feed: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items", []), list):
        raise FeedParseError("JSON document is not a JSON Feed (no items list)")
    version = str(doc.get("version", ""))
    if "jsonfeed.org" not in version and "items" not in doc:
        raise FeedParseError("JSON document is not a JSON Feed")
    fmt = "json11" if version.endswith("1.1") else "json10"
    base = doc.get("home_page_url") if isinstance(doc.get("home_page_url"), str) else url
    feed_author = _json_author(doc)
    items = [i for i in doc.get("items", []) if isinstance(i, dict)][:max_entries]
    entries = tuple(_json_entry(i, url, urljoin(url, base), feed_author) for i in items)
    return ParsedFeed(title=html_to_text(_str(doc.get("title"))), entries=entries, format=fmt)


def _decode_json(body: bytes) -> str:
    # UTF-16 only on evidence (a BOM, or the NUL bytes of an ASCII first character, RFC 4627 s. 3):
    # any even-length byte string "decodes" as UTF-16, so trying it blindly turned a UTF-8
    # document with one stray Latin-1 byte into garbage instead of into text.
    encodings = ["utf-8-sig"]
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings.insert(0, "utf-16")
    elif len(body) > 1 and body[0] == 0 and body[1] != 0:
        encodings.insert(0, "utf-16-be")
    elif len(body) > 1 and body[0] != 0 and body[1] == 0:
        encodings.insert(0, "utf-16-le")
    for enc in encodings:
        try:
            return body.decode(enc)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def _json_entry(item: dict, feed_url: str, base: str, feed_author: str) -> Entry:
    link = _str(item.get("url")) or _str(item.get("external_url"))
    link = urljoin(base, link.strip()) if link else ""
    title = html_to_text(_str(item.get("title")))
    content = _str(item.get("content_text")) or html_to_text(_str(item.get("content_html")))
    summary = html_to_text(_str(item.get("summary")))
    if not summary and content:
        summary = content[:500]
    link = _bounded_link(link)
    guid = _bounded_guid(_str(item.get("id")).strip() or link or _hash_guid(title, summary))
    published = _iso(item.get("date_published"))
    updated = _iso(item.get("date_modified"))
    return Entry(feed_url=feed_url, guid=guid, url=link, title=title, summary=summary,
                 content=content.strip(),
                 author=_json_author(item) or feed_author, published=published or updated, updated=updated)


def _json_author(obj: dict) -> str:
    authors = obj.get("authors")
    if isinstance(authors, list):
        names = [_str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
        if names:
            return ", ".join(names)
    author = obj.get("author")
    return _str(author.get("name")) if isinstance(author, dict) else ""


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = feedparser.datetimes._parse_date(value)  # RFC 822 and friends, seen in the wild
        return _struct(parsed)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


# -- helpers -----------------------------------------------------------------------

def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


MAX_GUID_CHARS = 512      # a longer GUID is stored as its hash: keys are stored every poll
MAX_LINK_CHARS = 8192     # a longer "link" is no link (the entry keeps its GUID and feed text)


def _bounded_guid(guid: str) -> str:
    return guid if len(guid) <= MAX_GUID_CHARS else "sha1:" + hashlib.sha1(guid.encode()).hexdigest()


def _bounded_link(link: str) -> str:
    return link if len(link) <= MAX_LINK_CHARS else ""


def _hash_guid(title: str, summary: str) -> str:
    return "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
