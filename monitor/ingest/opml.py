"""OPML subscription lists: reading real-world exports and writing our own.

Owns `parse_opml` (tolerant: bare `&` in attributes, stray markup, any nesting; folders
become tags) and `export_opml` (one folder per feed's first tag, every tag also in the
`category` attribute, so an export imports back to the same feeds and tags).
Must not fetch feeds or touch the config file or the store.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree

from monitor.errors import FeedParseError

_BARE_AMP = re.compile(rb"&(?!(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)")
_WS = re.compile(r"\s+")


def _clean(value: str | None) -> str:
    return _WS.sub(" ", value or "").strip()


def parse_opml(data: bytes) -> list[dict[str, Any]]:
    """Feeds of an OPML document as dicts {url, name, tags}, in document order, each URL once."""
    # Exporters often write "a & b" unescaped; escape it before parsing so nothing is lost
    # (a recovering parser alone would drop the attribute or the whole outline).
    data = _BARE_AMP.sub(b"&amp;", data)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedParseError(f"not OPML: {exc}") from None
    if root is None:
        raise FeedParseError("not OPML: empty document")
    body = root.find("body")
    feeds: list[dict[str, Any]] = []
    seen: set[str] = set()
    _walk(body if body is not None else root, [], feeds, seen)
    return feeds


def _walk(node: Any, folders: list[str], feeds: list[dict[str, Any]], seen: set[str]) -> None:
    for child in node:
        if not isinstance(child.tag, str) or child.tag.lower() != "outline":
            continue
        attrs = {k.lower(): v for k, v in child.attrib.items()}
        name = _clean(attrs.get("title") or attrs.get("text"))
        url = _clean(attrs.get("xmlurl"))
        if url:
            if url not in seen:
                seen.add(url)
                tags = list(folders)
                for cat in (attrs.get("category") or "").split(","):
                    for part in cat.strip().strip("/").split("/"):
                        if part.strip() and part.strip() not in tags:
                            tags.append(part.strip())
                feeds.append({"url": url, "name": name, "tags": tags})
            _walk(child, folders, feeds, seen)
        else:
            _walk(child, folders + [name] if name else folders, feeds, seen)


def export_opml(feeds: Any, title: str = "monitor feeds") -> str:
    """OPML 2.0 of feeds (objects or dicts with url, name, tags)."""
    folders: dict[str, list[str]] = {}
    for f in feeds:
        url, name, tags = _get(f, "url"), _get(f, "name") or _get(f, "url"), list(_get(f, "tags") or ())
        cat = f" category={quoteattr(','.join(tags))}" if tags else ""
        line = (f"<outline type=\"rss\" text={quoteattr(name)} title={quoteattr(name)} "
                f"xmlUrl={quoteattr(url)}{cat}/>")
        folders.setdefault(tags[0] if tags else "", []).append(line)
    out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<opml version=\"2.0\">",
           f"  <head><title>{_esc(title)}</title></head>", "  <body>"]
    for folder, lines in folders.items():
        if folder:
            out.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
            out.extend(f"      {x}" for x in lines)
            out.append("    </outline>")
        else:
            out.extend(f"    {x}" for x in lines)
    out += ["  </body>", "</opml>", ""]
    return "\n".join(out)


def _get(f: Any, key: str) -> Any:
    return f.get(key) if isinstance(f, dict) else getattr(f, key, None)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
