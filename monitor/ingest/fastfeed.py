"""The fast path of feed parsing: ordinary RSS 2.0 and Atom 1.0 without feedparser's cost.

Owns reading a well-formed RSS 2.0 or Atom 1.0 document into the same entry values
feedparser gives for the fields monitor uses (title, link and links, id, summary,
content, author, published/created/updated times; the feed's title and ttl), about ten
times faster: the document is decoded by feedparser's own `convert_to_utf8`, parsed by
the same expat parser feedparser's strict mode uses (through ElementTree's C tree
builder instead of SAX callbacks), and then walked by our own re-implementation of the
behaviour of feedparser's element handlers (written here, not copied): document order, its context (feed, entry, image), its title-depth and
"second description is content" rules, its value clean-up (strip, the Latin-1/UTF-8 and
cp1252 repairs, link entity fix-ups) and its date parser.

Anything this walk does not mirror raises `Unsure`, and ingest/feeds.py then gives the
whole document to feedparser, as before: a DOCTYPE or entity declaration, an encoding
feedparser had to guess or flag (its `bozo`), XML expat rejects, RSS 0.9x/1.0/RDF,
Atom 0.3, xml:base, an element with a feedparser handler not copied here, a text field
with child elements, typed (xhtml, base64) content, sources, text inputs, an item's
image, namespaces a prefix could confuse. tests/test_fastfeed.py compares both paths
over every corpus feed and the feed farm's.
Must not fetch anything and must not touch the store.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.urls import _urljoin


class Unsure(Exception):
    """The document uses something the fast path does not mirror: feedparser reads it."""


_STD = {uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()}
_USERLAND = "http://backend.userland.com/rss"
_STD_PREFIXES = frozenset(p for p in _STD.values() if p)
_HANDLERS = frozenset(n[7:] for n in dir(StrictFeedParser) if n.startswith("_start_")) | \
    frozenset(n[5:] for n in dir(StrictFeedParser) if n.startswith("_end_"))
_HANDLER_PREFIXES = frozenset(n.split("_", 1)[0] for n in _HANDLERS if "_" in n)
# context keys feedparser's handlers read or that monitor reads: an unknown element of one
# of these names would overwrite them
_KEYS = frozenset({
    "title", "link", "links", "summary", "content", "author", "authors", "author_detail", "id",
    "guidislink", "published", "published_parsed", "created", "created_parsed", "updated",
    "updated_parsed", "image", "textinput", "tags", "source", "href", "url", "name", "email",
    "publisher", "publisher_detail", "contributors", "subtitle", "rights", "language", "where",
    "media_content", "media_thumbnail", "media_credit", "media_rating", "media_restriction",
    "media_license", "media_player", "generator", "generator_detail", "cloud", "newlocation",
    "itunes_explicit", "itunes_block", "license", "credit", "rating", "restriction", "category",
})
_RELATIVE = frozenset(StrictFeedParser.can_be_relative_uri)
_HTML_TYPES = frozenset(StrictFeedParser.html_types)
_COPY_TO_SUMMARY = _HTML_TYPES | {"text/plain"}
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_AMP_NAME = re.compile("&([A-Za-z0-9_]+);")
# every namespace declaration, and anything that looks like one (refusing more is safe)
_DECL = re.compile(rb"""xmlns(?::([^\s=/>]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ATOM = "http://www.w3.org/2005/Atom"
_NO_VERSION_URIS = frozenset({"http://my.netscape.com/rdf/simple/0.9/", "http://purl.org/rss/1.0/"})
# feedparser forgets it is inside an image / a text input at any other unprefixed element
_IMAGE_TAGS = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_TAGS = frozenset({"title", "link", "description", "name"})
_MAX_DEPTH = 200            # deeper than any feed: feedparser reads it (and the walk stays shallow)


def parse_fast(body: bytes, content_type: str, max_entries: int) -> tuple[dict, list[dict], str]:
    """(feed, entries, version) as feedparser would give them (feedparser-shaped dicts,
    at most `max_entries` entries), or Unsure."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Unsure("DOCTYPE")
    result: dict[str, Any] = {}
    headers = {"content-type": content_type} if content_type else {}
    try:
        data = convert_to_utf8(headers, body, result)
    except Exception:       # feedparser's own handling of what its decoder cannot do
        raise Unsure("encoding") from None
    if result.get("bozo") or not result.get("encoding"):
        raise Unsure("encoding")
    _check_declarations(data)
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError, RecursionError):
        raise Unsure("not well-formed") from None
    sim = _Sim(max_entries)
    if root.tag == "rss":
        version = _attrs(root).get("version", "")
        if not version.startswith("2."):
            raise Unsure("RSS version")
        sim.version = "rss20"
    elif root.tag == "{%s}feed" % _ATOM:
        sim.version = "atom10"
    else:
        raise Unsure("not RSS 2.0 or Atom 1.0")
    sim.root(root)
    return sim.feed, sim.entries[:max_entries], sim.version


def _check_declarations(data: bytes) -> None:
    """Namespace declarations feedparser would read differently from their URI: refused."""
    bound: dict[str, str] = {}
    for m in _DECL.finditer(data):
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        if b"&" in raw:
            raise Unsure("entity in a namespace")
        uri = raw.decode("utf-8").lower()
        prefix = (m.group(1) or b"").decode("utf-8")
        if bound.setdefault(prefix, uri) != uri:
            raise Unsure("a prefix bound twice")
        if "backend.userland.com/rss" in uri or uri in _NO_VERSION_URIS:
            raise Unsure("RSS 0.9x/1.0 namespace")
        std = _STD.get(uri)
        low = prefix.lower()
        if std is None:
            if not prefix or low in _STD_PREFIXES or low in _HANDLER_PREFIXES or \
                    any(k.startswith(low + "_") for k in _KEYS):
                raise Unsure("unknown namespace feedparser could misname")
        elif prefix and low in _STD_PREFIXES and low != std:
            raise Unsure("a standard prefix bound to another namespace")


def _attrs(el: ET.Element) -> dict[str, str]:
    """feedparser's view of an element's attributes: lower-case names, rel/type values lower-cased."""
    out = {}
    for k, v in el.attrib.items():
        if k[0] == "{":
            if k == "{http://www.w3.org/XML/1998/namespace}lang":
                continue
            raise Unsure("namespaced attribute")
        k = k.lower()
        if k == "base":
            raise Unsure("base attribute")
        out[k] = v.lower() if k in ("rel", "type") else v
    return out


def _map_type(t: str) -> str:
    t = t.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html",
            "xhtml": "application/xhtml+xml"}.get(t, t)


def _fix(out: str) -> str:
    # feedparser's repairs, in its order: UTF-8 read as Latin-1, then cp1252's C1 characters
    # (neither changes ASCII text)
    if out.isascii():
        return out
    try:
        out = out.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return out.translate(_cp1252)


def _leaf_text(el: ET.Element) -> str:
    if len(el):
        raise Unsure("markup inside a text element")
    return el.text or ""


class _Sim:
    """feedparser's handler state for the elements it mirrors (the names are its own)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.version = ""
        self.feed: dict[str, Any] = {}
        self.entries: list[dict] = []
        self.entry: dict = {}
        self.depth_map: dict[str, int] = {}
        self.infeed = self.inentry = self.inimage = self.intextinput = 0
        self.inauthor = self.inpublisher = 0
        self.title_depth = -1
        self.has_content = 0
        self.guidislink = 0

    # -- structure ------------------------------------------------------------------
    def root(self, root: ET.Element) -> None:
        if self.version == "rss20":
            children = [c for c in root]
            self._reset_flags("rss")
            for c in children:
                if c.tag != "channel":
                    raise Unsure("RSS element outside the channel")
                self.element(c, 2)
        else:
            self._reset_flags("feed")
            self.channel(root, 1)

    def _reset_flags(self, local: str) -> None:
        if local not in _TEXTINPUT_TAGS:
            self.intextinput = 0
        if local not in _IMAGE_TAGS:
            self.inimage = 0

    def channel(self, el: ET.Element, depth: int) -> None:
        if self.infeed or self.inentry:
            raise Unsure("nested channel")
        a = _attrs(el)
        if "lastmod" in a or "href" in a:
            raise Unsure("CDF attributes")
        self.infeed = 1
        self.children(el, depth)
        self.infeed = 0

    def children(self, el: ET.Element, depth: int) -> None:
        if depth >= _MAX_DEPTH:
            raise Unsure("deep")
        for c in el:
            self.element(c, depth + 1)

    def context(self) -> dict:
        if self.inimage and "image" in self.feed:
            return self.feed["image"]
        if self.intextinput:
            raise Unsure("text input")
        if self.inentry:
            return self.entry
        return self.feed

    def element(self, el: ET.Element, depth: int) -> None:
        tag = el.tag
        if tag[0] == "{":
            uri, local = tag[1:].split("}", 1)
            prefix = _STD.get(uri.lower())
            if prefix is None:              # a namespace feedparser does not know, prefixed
                self.children(el, depth)    # (_check_declarations): inert under its own name
                return
            local = local.lower()
            name = f"{prefix}_{local}" if prefix else local
        else:
            prefix, local = "", tag.lower()
            name = local
        if not prefix:
            self._reset_flags(local)
        handler = _DISPATCH.get(name)
        if handler is not None:
            handler(self, el, depth)
            return
        if name in _HANDLERS or name in _KEYS:
            raise Unsure(f"<{name}>")
        if name == "ttl" and not self.inentry:
            self.unknown_ttl(el, depth)
            return
        self.children(el, depth)            # unknown to feedparser too: a key of its own name

    # -- feedparser's pop(): the value and where it goes --------------------------------
    def value(self, element: str, raw: str) -> str:
        out = raw.strip()
        if element in _RELATIVE and out and (element != "id" or self.guidislink):
            out = _urljoin("", out)
        return _fix(out)

    def store(self, element: str, out: str, depth: int, ctype: str = "") -> str:
        if element == "title" and -1 < self.title_depth <= depth:
            return out
        if self.inentry:
            e = self.entry
            if element == "content":
                e.setdefault("content", []).append({"type": ctype, "value": out})
            elif element == "link":
                if not self.inimage:
                    out = _AMP_NAME.sub(r"&\g<1>", out.replace("&amp;", "&"))
                    e["link"] = out
                    if out:
                        e["links"][-1]["href"] = out
            else:
                if element == "description":
                    element = "summary"
                old = self.depth_map.get(element)
                if old is None or depth <= old:
                    self.depth_map[element] = depth
                    e[element] = out
        elif self.infeed:
            ctx = self.context()
            if element == "description":
                element = "subtitle"
            ctx[element] = out
            if element == "link":
                out = _AMP_NAME.sub(r"&\g<1>", out)
                ctx["link"] = out
                ctx["links"][-1]["href"] = out
        return out

    def content_type(self, a: dict, default: str) -> str:
        if "mode" in a:
            raise Unsure("content mode")
        t = _map_type(a.get("type", default))
        if t not in _TEXT_TYPES:
            # xhtml (feedparser rebuilds its markup), base64 and XML types: not mirrored
            raise Unsure(f"content type {t}")
        return t

    # -- handlers ---------------------------------------------------------------------
    def h_item(self, el: ET.Element, depth: int) -> None:
        # every item, also past the cap (feedparser reads them all, then the cap applies):
        # what they do to its state and whether it reads them at all stay the same
        if not self.infeed or self.inentry:
            raise Unsure("item outside the channel")
        if _attrs(el):
            raise Unsure("item attributes")
        self.entry = {}
        self.entries.append(self.entry)
        self.depth_map = {}
        self.inentry = 1
        self.guidislink = 0
        self.title_depth = -1
        self.children(el, depth)
        self.inentry = 0
        self.has_content = 0

    def h_channel(self, el: ET.Element, depth: int) -> None:
        if depth != 2 or self.version != "rss20":
            raise Unsure("channel out of place")
        self.channel(el, depth)

    def h_title(self, el: ET.Element, depth: int, media: bool = False) -> None:
        ctype = self.content_type(_attrs(el), "text/plain")
        out = self.value("title", _leaf_text(el))
        saved = self.title_depth
        self.store("title", out, depth, ctype)
        if out:
            self.title_depth = depth
        if media:
            self.title_depth = saved

    def h_media_title(self, el: ET.Element, depth: int) -> None:
        self.h_title(el, depth, media=True)

    def _as_content(self, el: ET.Element, depth: int, a: dict, default: str) -> None:
        # feedparser's _start_content / _end_content
        self.has_content = 1
        ctype = self.content_type(a, default)
        out = self.value("content", _leaf_text(el))
        self.store("content", out, depth, ctype)
        if ctype in _COPY_TO_SUMMARY:
            self.context().setdefault("summary", out)

    def h_description(self, el: ET.Element, depth: int) -> None:
        self._summary_or_content(el, depth, "description", "text/html")

    def h_summary(self, el: ET.Element, depth: int) -> None:
        self._summary_or_content(el, depth, "summary", "text/plain")

    def _summary_or_content(self, el: ET.Element, depth: int, key: str, default: str) -> None:
        # a second summary or description, with no content yet, is the content
        a = _attrs(el)
        if "summary" in self.context() and not self.has_content:
            self._as_content(el, depth, a, "text/plain")
            return
        self.store(key, self.value(key, _leaf_text(el)), depth, self.content_type(a, default))

    def h_abstract(self, el: ET.Element, depth: int) -> None:
        ctype = self.content_type(_attrs(el), "text/plain")
        self.store("description", self.value("description", _leaf_text(el)), depth, ctype)

    def h_content(self, el: ET.Element, depth: int) -> None:
        self._as_content(el, depth, _attrs(el), "text/plain")

    def h_content_encoded(self, el: ET.Element, depth: int) -> None:
        self._as_content(el, depth, _attrs(el), "text/html")

    def h_link(self, el: ET.Element, depth: int) -> None:
        a = _attrs(el)
        a.setdefault("rel", "alternate")
        a.setdefault("type", "application/atom+xml" if a["rel"] == "self" else "text/html")
        a = _enforce_href(a)
        if "href" in a:
            a["href"] = _urljoin("", a["href"])
        ctx = self.context()
        links = ctx.setdefault("links", [])
        if not (self.inentry and self.inimage):
            links.append(a)
        if "href" in a:
            if len(el):
                raise Unsure("markup inside a link")
            if a.get("rel") == "alternate" and _map_type(a.get("type", "")) in _HTML_TYPES:
                ctx["link"] = a["href"]
            return
        self.store("link", self.value("link", _leaf_text(el)), depth)

    def h_enclosure(self, el: ET.Element, depth: int) -> None:
        a = _enforce_href(_attrs(el))
        a["rel"] = "enclosure"
        self.context().setdefault("links", []).append(a)
        self.children(el, depth)

    def h_guid(self, el: ET.Element, depth: int) -> None:
        self.guidislink = _attrs(el).get("ispermalink", "true") == "true"
        out = self.value("id", _leaf_text(el))
        out = self.store("id", out, depth)
        ctx = self.context()
        ctx.setdefault("guidislink", bool(self.guidislink and "link" not in ctx))
        if self.guidislink:
            ctx.setdefault("link", out)

    def _date(self, el: ET.Element, depth: int, element: str) -> None:
        _attrs(el)
        out = self.store(element, self.value(element, _leaf_text(el)), depth)
        self.context()[element + "_parsed"] = parse_date(out)

    def h_published(self, el: ET.Element, depth: int) -> None:
        self._date(el, depth, "published")

    def h_updated(self, el: ET.Element, depth: int) -> None:
        self._date(el, depth, "updated")

    def h_created(self, el: ET.Element, depth: int) -> None:
        self._date(el, depth, "created")

    def h_author(self, el: ET.Element, depth: int) -> None:
        if self.inauthor:
            raise Unsure("nested author")
        _attrs(el)
        self.inauthor = 1
        ctx = self.context()
        ctx.setdefault("authors", []).append({})
        raw = el.text or ""
        for c in el:
            self.element(c, depth + 1)
            raw += c.tail or ""
        self.store("author", self.value("author", raw), depth)
        self.inauthor = 0
        self.sync_author()

    def _person_part(self, el: ET.Element, key: str) -> None:
        _attrs(el)
        value = _leaf_text(el).strip()      # pushed without "expecting text": stripped only
        if self.inpublisher:
            self.save_author(key, value, "publisher")
        elif self.inauthor:
            self.save_author(key, value)
        elif key == "name" and self.intextinput:
            raise Unsure("text input")

    def h_name(self, el: ET.Element, depth: int) -> None:
        self._person_part(el, "name")

    def h_email(self, el: ET.Element, depth: int) -> None:
        self._person_part(el, "email")

    def h_url(self, el: ET.Element, depth: int) -> None:
        _attrs(el)
        out = self.store("href", self.value("href", _leaf_text(el)), depth)
        if self.inauthor:
            self.save_author("href", out)

    def h_webmaster(self, el: ET.Element, depth: int) -> None:
        # publisher: its own keys, then feedparser's sync of them
        _attrs(el)
        out = self.value("publisher", _leaf_text(el))
        self.store("publisher", out, depth)

    def h_itunes_owner(self, el: ET.Element, depth: int) -> None:
        if self.inentry:
            raise Unsure("itunes:owner in an item")
        self.inpublisher = 1
        self.children(el, depth)
        self.inpublisher = 0

    def save_author(self, key: str, value: str, prefix: str = "author") -> None:
        # feedparser's _save_author: the detail under the prefix, then the *author* sync and
        # the value into authors[-1] whatever the prefix
        ctx = self.context()
        ctx.setdefault(prefix + "_detail", {})[key] = value
        self.sync_author()
        ctx.setdefault("authors", [{}])[-1][key] = value

    def sync_author(self) -> None:
        ctx = self.context()
        detail = ctx.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                ctx["author"] = f"{name} ({email})"
            elif name:
                ctx["author"] = name
            elif email:
                ctx["author"] = email
            return
        author, email = ctx.get("author"), None
        if not author:
            return
        m = _EMAIL.search(author)
        if m:
            email = m.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "")
            author = author.strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            ctx.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def h_image(self, el: ET.Element, depth: int) -> None:
        if self.inentry:
            raise Unsure("image in an item")
        ctx = self.context()
        ctx.setdefault("image", {})
        self.inimage = 1
        self.title_depth = -1
        self.children(el, depth)
        self.inimage = 0

    def h_itunes_image(self, el: ET.Element, depth: int) -> None:
        a = _attrs(el)
        ctx = self.context()
        if a.get("href"):
            ctx["image"] = {"href": a["href"]}
        elif a.get("url"):
            ctx["image"] = {"href": a["url"]}
        self.children(el, depth)

    def h_inert(self, el: ET.Element, depth: int) -> None:
        """A feedparser handler that writes only keys monitor never reads: its children still count."""
        self.children(el, depth)

    def h_inert_text(self, el: ET.Element, depth: int) -> None:
        """A text element feedparser keeps under its own key (rights, subtitle, ...): its
        children are its markup there, so any child is refused rather than mirrored."""
        self.content_type(_attrs(el), "text/plain")
        _leaf_text(el)

    def unknown_ttl(self, el: ET.Element, depth: int) -> None:
        a = el.attrib
        ctx = self.context()
        if a:
            ctx["ttl"] = dict(a)
            self.children(el, depth)
            return
        _leaf_text(el)
        self.store("ttl", self.value("ttl", el.text or ""), depth)


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                         "Nov", "Dec"), 1)}
_RFC822 = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"(\d{4}) (\d\d):(\d\d):(\d\d) (?:GMT|([+-])(\d\d)(\d\d))\Z")
_W3DTF = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?(?:Z|([+-])(\d\d):(\d\d))\Z")


def parse_date(value: str) -> Any:
    """feedparser's `_parse_date` (a UTC 9-tuple, or None), with the two shapes nearly every
    feed uses (RFC 822 with GMT or a numeric zone, W3C-DTF with Z or an offset) read directly:
    the same instant as feedparser's on every string tests/test_fastfeed.py generates."""
    m = _RFC822.match(value)
    if m:
        d, mon, y, h, mi, sec, sign, oh, om = m.groups()
        mo = str(_MONTHS[mon])
    else:
        m = _W3DTF.match(value)
        if not m:
            return _parse_date(value)
        y, mo, d, h, mi, sec, sign, oh, om = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec))
    except ValueError:
        return _parse_date(value)
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        dt = dt - offset if sign == "+" else dt + offset
    return dt.timetuple()


_EMAIL = re.compile(r'''(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?''')


def _enforce_href(a: dict) -> dict:
    href = a.get("url", a.get("uri", a.get("href", None)))
    if href:
        a.pop("url", None)
        a.pop("uri", None)
        a["href"] = href
    return a


_DISPATCH = {
    "channel": _Sim.h_channel, "item": _Sim.h_item, "entry": _Sim.h_item,
    "title": _Sim.h_title, "dc_title": _Sim.h_title, "media_title": _Sim.h_media_title,
    "description": _Sim.h_description, "dc_description": _Sim.h_description,
    "media_description": _Sim.h_description,
    "summary": _Sim.h_summary, "itunes_summary": _Sim.h_summary, "abstract": _Sim.h_abstract,
    "content": _Sim.h_content, "content_encoded": _Sim.h_content_encoded,
    "fullitem": _Sim.h_content_encoded,
    "link": _Sim.h_link, "enclosure": _Sim.h_enclosure, "guid": _Sim.h_guid, "id": _Sim.h_guid,
    "published": _Sim.h_published, "issued": _Sim.h_published, "pubdate": _Sim.h_published,
    "dcterms_issued": _Sim.h_published,
    "updated": _Sim.h_updated, "modified": _Sim.h_updated, "lastbuilddate": _Sim.h_updated,
    "dc_date": _Sim.h_updated, "dcterms_modified": _Sim.h_updated,
    "created": _Sim.h_created, "dcterms_created": _Sim.h_created,
    "author": _Sim.h_author, "managingeditor": _Sim.h_author, "dc_author": _Sim.h_author,
    "dc_creator": _Sim.h_author, "itunes_author": _Sim.h_author,
    "name": _Sim.h_name, "itunes_name": _Sim.h_name,
    "email": _Sim.h_email, "itunes_email": _Sim.h_email,
    "url": _Sim.h_url, "uri": _Sim.h_url, "homepage": _Sim.h_url,
    "webmaster": _Sim.h_webmaster, "dc_publisher": _Sim.h_webmaster,
    "itunes_owner": _Sim.h_itunes_owner,
    "image": _Sim.h_image, "itunes_image": _Sim.h_itunes_image, "itunes_link": _Sim.h_itunes_image,
    # handlers whose keys monitor never reads (tags, media, language, ...)
    **dict.fromkeys(("category", "keywords", "dc_subject", "media_category", "media_keywords",
                     "itunes_keywords", "itunes_category", "media_group", "media_content",
                     "media_thumbnail", "media_credit", "media_rating", "media_restriction",
                     "media_license", "media_player", "cloud", "generator", "language",
                     "dc_language", "width", "height", "newlocation", "itunes_explicit",
                     "itunes_block", "expirationdate"),
                    _Sim.h_inert),
    **dict.fromkeys(("copyright", "rights", "dc_rights", "subtitle", "tagline", "itunes_subtitle",
                     "info", "feedburner_browserfriendly"), _Sim.h_inert_text),
}
