"""How digests of worst-case items are laid out per format: parts, sizes, time to prepare.

    .venv/bin/python bench/delivery_parts.py [--items 1,50,500]

Builds digests from synthetic worst-case items (320-character headlines with markup and
mentions, 170-character feed names, 400-character URLs, mixed priorities), prepares them
for every webhook format and for email (the parts a first attempt would save), and prints
per format and size: messages, largest message (bytes), and milliseconds to prepare.
Then the duplicate rule's cost: `settle_duplicates` on a channel with 50,000 delivered rows
and 500 pending ones (a temporary database). Nothing is sent.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime

from monitor.deliver.channels.email import prepare_messages
from monitor.deliver.channels.webhook import encode
from monitor.deliver.digest import build_digest
from monitor.deliver.formats import FORMATS
from monitor.deliver.parts import split
from monitor.store.sqlite import Store

HOSTILE = " <!channel> @everyone [click](http://evil.example/x) *bold* &lt;!here&gt;"


def rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        title = (f"Capital {i}: agency decision on energy procurement and supply forecast" + HOSTILE
                 + " — a long headline as real ones get" * 6)[:320]
        out.append({"outbox_id": i, "id": i, "rule": ["alpha", "beta", "gamma"][i % 3],
                    "priority": "high" if i % 7 == 0 else "low" if i % 5 == 0 else "normal",
                    "rule_title": f"The {['Alpha', 'Beta', 'Gamma'][i % 3]} Programme and Everything Said About It",
                    "url": f"https://news.example/outlet/{i}/story.html?ref=" + "x" * 360 + f"&n={i}",
                    "title": title, "summary": "",
                    "text": "Officials said the alpha beta gamma programme would be signed. " * 12,
                    "source": ("Outlet International Edition for Europe, the Middle East and Africa " * 3)[:170],
                    "feed_url": "", "published": f"2026-03-02T08:{i % 60:02d}:00+00:00",
                    "text_source": "page", "story_id": None,
                    "hits": json.dumps([{"field": "text", "start": 30, "end": 35, "text": "alpha"}])})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", default="1,50,500")
    args = ap.parse_args()
    print("| format | items | messages | largest message, bytes | prepare ms |")
    print("|---|---|---|---|---|")
    for n in [int(x) for x in args.items.split(",")]:
        d = build_digest(rows(n), channel="bench", created=datetime(2026, 3, 2, 10, tzinfo=UTC), delivery_id="b")
        for name, fmt in FORMATS.items():
            t = time.perf_counter()
            parts = split(d, fmt.render, fmt.fits)
            ms = (time.perf_counter() - t) * 1000
            biggest = max(len(encode(p)) for _, p in parts)
            print(f"| {name} | {n} | {len(parts)} | {biggest:,} | {ms:,.0f} |")
        t = time.perf_counter()
        msgs = prepare_messages(d, "b", "monitor@example.org", ["a@example.org"])
        ms = (time.perf_counter() - t) * 1000
        html = max(len(m.get_body(("html",)).get_content().encode()) for _, m, _ in msgs)
        print(f"| email (HTML part) | {n} | {len(msgs)} | {html:,} | {ms:,.0f} |")
    duplicates()


def duplicates(history: int = 50_000, pending: int = 500) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(os.path.join(tmp, "bench.db"))
        now = "2026-03-02T09:00:00+00:00"
        with store.transaction():
            for i in range(1, history + pending + 1):
                store.db.execute("INSERT INTO articles (id, url, feed_url, guid, title, created, story_id) "
                                 "VALUES (?,?,?,?,?,?,?)", [i, f"u{i}", "f", str(i), "t", now, i // 3 + 1])
                store.db.execute("INSERT INTO outbox (article_id, rule, channel, priority, created, status) "
                                 "VALUES (?,?,?,?,?,?)", [i, "r", "c", "normal", now,
                                                          "sent" if i <= history else "pending"])
        t = time.perf_counter()
        n = store.settle_duplicates("c")
        ms = (time.perf_counter() - t) * 1000
        store.close()
    print(f"\nsettle_duplicates: {pending} pending rows against {history:,} delivered: {ms:,.0f} ms "
          f"({n} marked duplicate)")


if __name__ == "__main__":
    main()
