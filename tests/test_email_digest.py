"""Email digests that mail clients and servers treat well (issue 14), against aiosmtpd, and
the 50-item HTML digest rendered in headless Chromium (Debian's `chromium`, installed by
scripts/install-test-deps.sh)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from datetime import UTC, datetime

import lxml.html

from monitor.deliver.delivery import run_digests
from monitor.deliver.digest import build_digest, render_html
from tests.test_delivery_limits import RANK, queue, worst_case

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def mail_channel(smtp_server, extra: str = "") -> str:
    return (f"  - {{name: desk, type: email, schedule: hourly, host: 127.0.0.1, port: {smtp_server.port}, "
            f"security: none, from: monitor@example.org, to: a@example.org{extra}}}\n")


def test_email_headers_size_toc_and_order_for_50_worst_case_items(delivery_env, smtp_server, farm_articles):
    env = delivery_env(mail_channel(smtp_server, ", from_name: Newsroom monitor, "
                                                 "list_unsubscribe: 'mailto:admin@example.org?subject=stop'"))
    items = worst_case(farm_articles, 50)
    queue(env, items)
    assert asyncio.run(run_digests(env.store, env.config, T0, force=True))["sent"] == 1
    [msg] = smtp_server.messages
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Id"] == "monitor: desk <desk.monitor.example.org>"
    assert msg["List-Unsubscribe"] == "<mailto:admin@example.org?subject=stop>"
    assert str(msg["From"]) == "Newsroom monitor <monitor@example.org>"
    subject = str(msg["Subject"])
    assert len(subject) <= 200 and "\n" not in subject and "Alpha Programme" in subject
    html = msg.get_body(("html",)).get_content()
    assert len(html.encode()) < 100_000
    assert html.count("<style") == 1
    doc = lxml.html.fromstring(html)
    toc = [a.get("href") for a in doc.xpath("//ol[@class='toc']//a")]
    assert len(toc) > 1 and all(doc.xpath(f"//*[@id='{h[1:]}']") for h in toc)
    text = msg.get_body(("plain",)).get_content()
    assert "In this digest:" in text and all(i["url"] in text for i in items)


def test_500_items_go_as_parts_each_under_the_clip_limit_each_item_once(delivery_env, smtp_server, farm_articles):
    env = delivery_env(mail_channel(smtp_server), "  max_items: 1000\n")
    items = worst_case(farm_articles, 500)
    queue(env, items)
    assert asyncio.run(run_digests(env.store, env.config, T0, force=True))["sent"] == 1
    msgs = smtp_server.messages
    assert len(msgs) > 1
    first_id = msgs[0]["Message-ID"]
    seen = []
    for k, m in enumerate(msgs, 1):
        assert f"(part {k} of {len(msgs)})" in str(m["Subject"])
        html = m.get_body(("html",)).get_content()
        assert len(html.encode()) < 100_000
        if k > 1:
            assert m["In-Reply-To"] == first_id
        seen += [a.get("href") for a in lxml.html.fromstring(html).xpath("//div[@class='t']/a")]
    assert sorted(seen) == sorted(i["url"] for i in items)
    by_url = {i["url"]: i for i in items}
    ranks = [RANK[by_url[u]["priority"]] for u in seen]
    assert ranks == sorted(ranks)


def test_a_title_with_line_breaks_never_fails_an_alert_on_email_or_file(delivery_env, smtp_server, tmp_path):
    env = delivery_env(mail_channel(smtp_server).replace("hourly", "immediate")
                       + "  - {name: files, type: file, schedule: immediate}\n")
    titles = ["Kallas<br>resigns", "Kallas\nresigns", "Kallas&#10;resigns".replace("&#10;", "\n"),
              "Kallas\u2028resigns", "Kallas\r\nBcc: victim@example.org"]
    for t in titles:
        env.add(t, channels=("desk", "files"), priority="high")
        summary = asyncio.run(run_digests(env.store, env.config, T0))
        assert summary["sent"] == 2 and summary["retrying"] == 0, (t, summary)
    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    assert all("\n" not in s and "\r" not in s for s in subjects)
    assert all(m["Bcc"] is None for m in smtp_server.messages)
    assert len(list((tmp_path / "digests").glob("*.eml"))) == len(titles)


def test_the_50_item_digest_in_headless_chromium(tmp_path, farm_articles):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: run scripts/install-test-deps.sh"
    rows = []
    for k, it in enumerate(worst_case(farm_articles, 50)):
        rows.append({"outbox_id": k, "id": k, "rule": it["rule"], "priority": it["priority"],
                     "rule_title": f"The {it['rule'].title()} Programme", "url": it["url"], "title": it["title"],
                     "summary": "", "text": "Officials said the alpha beta gamma programme " * 10,
                     "source": it["source"], "feed_url": "", "published": it["published"].isoformat(),
                     "text_source": "page", "story_id": None, "hits": "[]"})
    html = render_html(build_digest(rows, channel="desk", created=T0, timezone="Europe/Tallinn"))
    assert len(html.encode()) < 100_000
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "digest.png"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = lxml.html.fromstring(dom.stdout)
    sections = rendered.xpath("//h2")
    first_items = sections[0].xpath("following-sibling::div[contains(@class,'i')][1]")
    assert first_items and "border-left" in first_items[0].get("style", ""), "the first section is not high priority"
    assert len(rendered.xpath("//div[@class='t']/a")) == 50
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=800,4000", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000 and re.match(rb"\x89PNG", shot.read_bytes()[:4])
