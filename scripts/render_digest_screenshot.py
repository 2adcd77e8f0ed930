"""Render a sample HTML digest and screenshot it with headless Chromium, to eyeball the layout.

    .venv/bin/python scripts/render_digest_screenshot.py [/tmp/digest.html] [/tmp/digest.png]

Writes outside the repository only. Needs `chromium` on PATH (apt-get install -y chromium).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from monitor.deliver.digest import build_digest, render_html

BODY = ("Estonia's foreign minister Kaja Kallas said on Monday that the European Union must keep "
        "its support for Ukraine steady through the winter, adding that the SAFE defence loans "
        "would be decided before the summit. Officials in Tallinn expect a long negotiation.")


def row(i, title, rule, source, *, story=None, priority="normal", text=BODY, term="Kallas",
        text_source="page", minute=0):
    hits = [{"field": f, "start": v.find(term), "end": v.find(term) + len(term), "text": term}
            for f, v in (("title", title), ("text", text)) if term in v]
    return {"outbox_id": i, "id": i, "rule": rule, "priority": priority, "rule_title": rule.title(),
            "url": f"https://news.example/{rule}/{i}", "title": title, "summary": text[:160], "text": text,
            "source": source, "feed_url": "", "published": f"2026-03-02T08:{minute:02d}:00+00:00",
            "text_source": text_source, "story_id": story, "hits": json.dumps(hits)}


ROWS = [
    row(1, "Kallas: EU support for Ukraine must not waver", "kallas", "ERR News", story=1, priority="high"),
    row(2, "Kallas urges steady support for Kyiv", "kallas", "Postimees", story=1, minute=5),
    row(3, "Kallas meets Nordic counterparts in Helsinki", "kallas", "Yle", minute=12),
    row(4, "<script>alert('x')</script> Kallas and the budget", "kallas", "Example Wire", minute=20),
    row(5, "SAFE defence loans: who gets what", "safe", "Politico Europe", term="SAFE", minute=30),
    row(6, "Commission details SAFE instrument", "safe", "Euractiv", term="SAFE", text_source="feed", minute=41),
    row(7, "Greenland and the Arctic security debate", "greenland", "High North News", term="Greenland",
        text="Greenland is again at the centre of the Arctic security debate, officials said.", minute=50),
]


def main() -> int:
    html_path = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/digest.html")
    png_path = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/digest.png")
    d = build_digest(ROWS, channel="email", created=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                     timezone="Europe/Tallinn", more=3, delivery_id="3f2c0b7e-sample")
    html_path.write_text(render_html(d), encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        print(f"wrote {html_path}; no chromium on PATH, no screenshot")
        return 1
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png_path}", "--window-size=900,1400",
                        f"file://{html_path}"], check=True, capture_output=True, timeout=120)
    print(f"wrote {html_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
