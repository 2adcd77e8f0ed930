"""Hostile input through the real pipeline: the whole edge corpus, and hostile markup in digests.

Every file of ../shared/corpora/feeds/edge/ (feedparser's edge-case suite and broken
real-world captures), plus a few feeds written here to carry script and javascript: links
where a digest shows them, is served by the feed farm (`--real-dir`) on 127.0.0.1 and
polled by `pipeline.poll_cycle`. No feed may crash the cycle: each ends ok or failed with
its error recorded, never "internal error". The HTML digest of what matched must escape
markup from feeds and must not turn a javascript:/data: link into an href.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

import lxml.html
import pytest

from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon.run import open_deps
from monitor.deliver import delivery, digest
from tests.farm import SHARED, Farm

EDGE = SHARED / "corpora" / "feeds" / "edge"
REPO = Path(__file__).resolve().parents[1]

# Written here: the corpus has script in descriptions, but the titles and links a digest
# renders need their own cases. Each item's text says "hostile" so one rule matches them all.
CRAFTED = {
    "crafted/title-script.xml": """<?xml version="1.0"?><rss version="2.0"><channel><title>Crafted</title>
<item><guid>t1</guid><title>&amp;lt;script&amp;gt;alert('title')&amp;lt;/script&amp;gt; hostile title</title>
<link>http://127.0.0.1:9/a1</link><description>hostile one</description></item>
<item><guid>t2</guid><title><![CDATA[<img src=x onerror=alert(2)> hostile &lt;script>alert(3)&lt;/script>]]></title>
<link>http://127.0.0.1:9/a2</link><description>&lt;p&gt;hostile &amp;lt;script&amp;gt;alert(4)&amp;lt;/script&amp;gt;&lt;/p&gt;</description></item>
</channel></rss>""",
    "crafted/javascript-link.xml": """<?xml version="1.0"?><rss version="2.0"><channel><title>Links</title>
<item><guid>j1</guid><title>hostile javascript link</title><link>javascript:alert(document.cookie)</link>
<description>hostile &lt;a href="javascript:alert(5)"&gt;click&lt;/a&gt;</description></item>
<item><guid>j2</guid><title>hostile mixed-case link</title><link> JaVaScRiPt:alert(6)</link>
<description>hostile too</description></item>
<item><guid>j3</guid><title>hostile data link</title><link>data:text/html,&lt;script&gt;alert(7)&lt;/script&gt;</link>
<description>hostile data</description></item>
</channel></rss>""",
    "crafted/atom-xhtml.xml": """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<entry><id>urn:x:1</id><title type="html">&lt;script&gt;alert(8)&lt;/script&gt;&amp;lt;script&amp;gt;alert(9)&amp;lt;/script&amp;gt; hostile</title>
<link href="vbscript:msgbox(1)"/><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">hostile
<script>alert(10)</script><a href="javascript:alert(11)">x</a></div></content></entry>
</feed>""",
}
RULES = "rules:\n  - id: everything\n    query: 'hostile OR safe OR description OR content OR example OR entry OR item'\n"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def polled(tmp_path_factory):
    """The edge corpus and the crafted feeds, polled once; yields (deps-like facts, farm URL list)."""
    if not EDGE.is_dir():
        raise FileNotFoundError(f"the edge corpus is missing: {EDGE} (shared/ must sit beside the repo)")
    tmp = tmp_path_factory.mktemp("hostile")
    served = tmp / "served"
    shutil.copytree(EDGE, served)      # --real-dir refuses symlinks out of it, so a copy plus ours
    for name, body in CRAFTED.items():
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        (served / name).write_text(body)
    (tmp / "rules").mkdir()
    (tmp / "rules" / "all.yaml").write_text(RULES)
    names = _files(served)
    with Farm("--feeds", "1", "--real-dir", str(served)) as farm:
        urls = [f"{farm.url}/real/{n}" for n in names]
        feeds = "\n".join(f"  - url: '{u}'" for u in urls)
        cfg = config_mod.parse(f"""
state: {{path: {tmp}/monitor.db, digests_dir: {tmp}/digests}}
rules: {{path: {tmp}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], first_poll_alert_hours: all, full_text: false, timeout_seconds: 10}}
digest: {{max_items: 1000}}
channels: [{{name: archive, type: file, schedule: hourly}}]
feeds:
{feeds}
""", str(tmp / "hostile.yaml"))
        records: list[logging.LogRecord] = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = records.append
        logging.getLogger("monitor").addHandler(handler)
        try:
            summary, feeds_rows, digests = asyncio.run(_poll(cfg))
        finally:
            logging.getLogger("monitor").removeHandler(handler)
    yield {"names": names, "urls": urls, "summary": summary, "feeds": feeds_rows, "digests": digests,
           "records": records}


async def _poll(cfg):
    async with open_deps(cfg, use_pool=False) as deps:
        summary = await pipeline.poll_cycle(deps, every_feed=True)
        return summary, deps.store.feeds(), delivery.preview(deps.store, cfg)


def test_every_edge_file_is_served_through_nested_real_paths(polled):
    assert len(polled["names"]) >= 370          # the manifest lists 376 data files
    assert any("/" in n.split("feedparser/", 1)[-1] for n in polled["names"])   # nested folders
    ok = [f for f in polled["summary"].feeds if f.status == "ok"]
    # a 404 would fail every nested feed: most of the corpus is valid and must come out ok
    assert len(ok) > 0.8 * len(polled["names"])


def test_no_hostile_feed_crashes_the_cycle(polled):
    summary, rows = polled["summary"], polled["feeds"]
    assert len(summary.feeds) == len(polled["urls"])
    assert {f.status for f in summary.feeds} <= {"ok", "failed"}
    for f in summary.feeds:
        assert "internal error" not in f.error, f
    failed = [r for r in rows if r["error_count"]]
    assert all(r["last_error"] and r["state"] == "active" for r in failed)
    assert all(not r["error_count"] and r["last_success"] for r in rows if r not in failed)
    assert not [r.getMessage() for r in polled["records"]], "an error was logged"


def test_html_digest_escapes_markup_and_drops_script_links(polled):
    (d,) = polled["digests"]
    titles = " ".join(i.title for i in d.items)
    # the feeds really did put markup where the digest shows it, or the test proves nothing
    assert "<script>" in titles
    assert any(i.url.lower().lstrip().startswith(("javascript:", "data:", "vbscript:")) for i in d.items)
    html = digest.render_html(d)
    assert not re.search(r"<\s*script", html, re.I)
    assert not re.search(r"<\s*img\b", html, re.I)
    assert "&lt;script&gt;" in html                     # shown as text, escaped
    doc = lxml.html.fromstring(html)
    hrefs = [h.strip().lower() for h in doc.xpath("//@href")]
    assert hrefs and not [h for h in hrefs if h.startswith(("javascript:", "data:", "vbscript:"))]
    assert not doc.xpath("//@*[starts-with(name(), 'on')]")
    text = digest.render_text(d)
    assert "hostile" in text
