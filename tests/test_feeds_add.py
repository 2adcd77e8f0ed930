"""`feeds add` looks before it adds (a feed, a page that declares one, or a refusal), and a feed
that moves permanently while polled follows in the config file, comments kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon import run as daemon
from tests.localsite import Site, hours_ago, rss


def setup(tmp: Path, feeds: str = "") -> Path:
    cfg = tmp / "monitor.yaml"
    cfg.write_text(f"""# my monitor
state: {{path: {tmp}/m.db}}
rules: {{path: {tmp}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false, first_poll_alert_hours: all}}
channels: [{{name: a, type: file}}]
feeds:
  # the feeds I read
{feeds}""")
    (tmp / "rules").mkdir(exist_ok=True)
    (tmp / "rules" / "r.yaml").write_text("rules:\n  - id: accord\n    query: Halvorsen\n")
    return cfg


def add(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), "feeds", "add", *args])


def urls(cfg: Path) -> list[str]:
    return [f.url for f in config_mod.load(cfg).feeds]


def test_a_feed_is_added_after_one_look(tmp_path):
    with Site() as site:
        site.pages["/feed.xml"] = (200, "application/rss+xml", rss(site.base, [("a", "A", hours_ago(1))], "Desk"))
        cfg = setup(tmp_path)
        res = add(cfg, f"{site.base}/feed.xml")
        assert res.exit_code == 0, res.output
        assert "1 items in the feed (Desk)" in res.output
        assert urls(cfg) == [f"{site.base}/feed.xml"]
        assert site.hits == ["/feed.xml"]                 # fetched once
        assert "# the feeds I read" in cfg.read_text()


def test_a_page_leads_to_the_feed_it_declares_or_a_common_path(tmp_path):
    with Site() as site:
        site.pages["/news/"] = (200, "text/html", b'<html><head><title>News</title>'
                                b'<link rel="alternate" type="application/rss+xml" href="/news/rss"></head>'
                                b"<body>hello</body></html>")
        site.pages["/news/rss"] = (200, "application/rss+xml", rss(site.base, [("a", "A", hours_ago(1))], "News"))
        site.pages["/blog"] = (200, "text/html; charset=utf-8", b"<html><body>no links here</body></html>")
        site.pages["/feed"] = (200, "application/atom+xml",
                               b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>'
                               b'<id>urn:b</id><updated>2026-01-01T00:00:00Z</updated></feed>')
        cfg = setup(tmp_path)
        res = add(cfg, f"{site.base}/news/")
        assert res.exit_code == 0, res.output
        assert f"found the feed {site.base}/news/rss (News) on {site.base}/news/" in res.output
        res = add(cfg, f"{site.base}/blog")
        assert res.exit_code == 0, res.output
        assert urls(cfg) == [f"{site.base}/news/rss", f"{site.base}/feed"]


def test_a_404_or_a_page_without_feed_is_refused_unless_forced(tmp_path):
    with Site() as site:
        site.pages["/plain"] = (200, "text/html", b"<html><body>just a page</body></html>")
        cfg = setup(tmp_path)
        before = cfg.read_text()
        missing = add(cfg, f"{site.base}/gone.xml")
        assert missing.exit_code == 1 and "HTTP 404" in missing.output and "--force" in missing.output
        page = add(cfg, f"{site.base}/plain")
        assert page.exit_code == 1 and "not a feed" in page.output and "usual paths" in page.output
        assert cfg.read_text() == before
        forced = add(cfg, f"{site.base}/plain", "--force")
        assert forced.exit_code == 0 and urls(cfg) == [f"{site.base}/plain"]


def test_a_permanent_redirect_at_add_time_adds_the_new_address(tmp_path):
    with Site() as site:
        site.redirects["/old.xml"] = (301, "/new.xml")
        site.pages["/new.xml"] = (200, "application/rss+xml", rss(site.base, []))
        cfg = setup(tmp_path)
        res = add(cfg, f"{site.base}/old.xml")
        assert res.exit_code == 0 and "moved permanently" in res.output
        assert urls(cfg) == [f"{site.base}/new.xml"]


def poll(cfg: Path) -> pipeline.CycleSummary:
    async def go():
        async with daemon.open_deps(config_mod.load(cfg), use_pool=False) as deps:
            return await pipeline.poll_cycle(deps, every_feed=True)
    return asyncio.run(go())


def test_a_301_while_polling_rewrites_the_config_entry_and_remove_finds_either_address(tmp_path):
    with Site() as site:
        site.redirects["/old.xml"] = (301, f"{site.base}/new.xml")
        site.pages["/new.xml"] = (200, "application/rss+xml", rss(site.base, [("a", "Halvorsen", hours_ago(1))]))
        cfg = setup(tmp_path, f"  - url: {site.base}/old.xml   # moved last year\n    name: Desk\n"
                              "  - url: https://other.example/feed\n")
        summary = poll(cfg)
        assert summary.feeds[0].status == "ok"
        assert urls(cfg) == [f"{site.base}/new.xml", "https://other.example/feed"]
        text = cfg.read_text()
        assert "# moved last year" in text and "name: Desk" in text and "# my monitor" in text
        res = CliRunner().invoke(cli, ["--config", str(cfg), "feeds", "remove", f"{site.base}/old.xml"])
        assert res.exit_code == 0, res.output
        assert urls(cfg) == ["https://other.example/feed"]


def test_a_read_only_config_is_left_alone_and_the_move_shows_in_status(tmp_path):
    with Site() as site:
        site.redirects["/old.xml"] = (301, f"{site.base}/new.xml")
        site.pages["/new.xml"] = (200, "application/rss+xml", rss(site.base, []))
        cfg = setup(tmp_path, f"  - url: {site.base}/old.xml\n")
        blocker = tmp_path / ".monitor.yaml.tmp"
        blocker.mkdir()     # the atomic write's temporary file cannot be made (file modes do not stop root)
        before = cfg.read_text()
        poll(cfg)
        assert cfg.read_text() == before
        out = CliRunner().invoke(cli, ["--config", str(cfg), "status"]).output
        assert f"[moved] {site.base}/old.xml -> {site.base}/new.xml: the config still says the old address" in out
        blocker.rmdir()
