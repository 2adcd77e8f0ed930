"""Test helpers for the web interface: a config and a store filled the way the poll cycle fills it.

`WebEnv.add(...)` stores one article with its matches and outbox rows through
Store.save_feed_items (the pipeline's own write), so pages read what the daemon writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from monitor.config import settings as config_mod
from monitor.match import load_rules
from monitor.models import Article, Entry
from monitor.store.open import open_store
from monitor.store.sqlite import Store
from monitor.web.app import make_app
from monitor.web.security import Guard

RULES = """
entities:
  kallas: ['"Kaja Kallas"', '"EU top diplomat"']
rules:
  - id: kallas
    title: Kaja Kallas
    query: '@kallas OR (Kallas NEAR/5 EU)'
    priority: high
  - id: greenland
    title: Greenland
    query: 'Greenland OR Grønland'
  - id: strasse
    title: Streets
    query: 'strasse* OR orban'
"""


@dataclass
class WebEnv:
    tmp: Path
    http: str = ""
    fetch: str = ""
    state: str = ""         # a config `state:` section (tests.pgstate.StateTarget.yaml); default SQLite in tmp
    config: config_mod.Config = field(init=False)
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        rules = self.tmp / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        (rules / "test.yaml").write_text(RULES)
        cfg = self.tmp / "monitor.yaml"
        state = (self.state.rstrip("\n") + f"\n  digests_dir: {self.tmp}/state/digests\n" if self.state else
                 f"state: {{path: {self.tmp}/state/monitor.db, digests_dir: {self.tmp}/state/digests}}\n")
        cfg.write_text(state
                       + f"rules: {{path: {rules}}}\n"
                       "channels: [{name: archive, type: file, schedule: hourly}, "
                       "{name: desk, type: webhook, url: 'http://127.0.0.1:9/secret-hook-token', "
                       "schedule: immediate}]\n"
                       "default_channels: [archive]\n"
                       + (f"http: {{{self.http}}}\n" if self.http else "")
                       + (f"fetch: {{{self.fetch}}}\n" if self.fetch else ""))
        self.config = config_mod.load(cfg)
        self.store = open_store(self.config)
        self.rules = load_rules(rules)
        self.n = 0

    def add(self, title: str, text: str = "", *, source: str = "Outlet", tags: tuple[str, ...] = ("eu",),
            language: str = "en", feed: str = "https://feed.example/rss", summary: str = "") -> int:
        """Store one article as the poll cycle does; returns its id."""
        self.n += 1
        url = f"https://news.example/{self.n}-{re.sub(r'[^a-z]+', '-', title.lower())[:30]}"
        art = Article(url=url, feed_url=feed, guid=url, title=title, summary=summary, text=text,
                      published=datetime.now(UTC), language=language, source=source, feed_tags=tags)
        matches = self.rules.match(art)
        entry = Entry(feed_url=feed, guid=url, url=url, title=title)
        ids = self.store.save_feed_items(feed, [entry], [(art, matches, self.config.default_channels)], {})
        return ids[0]

    def client(self, guard: Guard | None = None) -> TestClient:
        return TestClient(make_app(self.config, guard or Guard()), base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)
