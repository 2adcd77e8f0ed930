"""JSON Feed bytes in the wrong charset still give entries (the drill's bad-charset JSON feeds)."""

from __future__ import annotations

import json

import pytest

from monitor.ingest.feeds import parse_feed

DOC = {"version": "https://jsonfeed.org/version/1.1", "title": "Outlet été",
       "items": [{"id": "1", "url": "http://127.0.0.1/a", "title": "Brüssel – talks"}]}


def test_json_feed_with_stray_latin1_bytes_is_read():
    # what a publisher's template does: an ASCII JSON document with Latin-1 bytes pasted in
    body = json.dumps(DOC).encode().replace(b"Outlet", "Outlet \xe9t\xe9".encode("latin-1"))
    if len(body) % 2:
        body += b" "        # even length: such bytes also "decode" as UTF-16, into garbage
    parsed = parse_feed(body, "http://127.0.0.1/feed", "application/feed+json")
    assert [e.title for e in parsed.entries] == ["Brüssel – talks"]
    assert parsed.title.startswith("Outlet été")


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_json_feed_in_unicode_encodings(encoding, ascii_only):
    body = json.dumps(DOC, ensure_ascii=ascii_only).encode(encoding)
    parsed = parse_feed(body, "http://127.0.0.1/feed", "application/feed+json")
    assert [e.title for e in parsed.entries] == ["Brüssel – talks"]
    assert parsed.title == "Outlet été"
