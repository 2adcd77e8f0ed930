"""The web interface in a real browser: Debian's Chromium driven by Playwright, against a real daemon.

A feed farm on 127.0.0.1 is polled by `monitor run` (the shipped e2e rules, a webhook
channel whose receiver first fails), and the test clicks through what an analyst would:
the matches page, a story, an article, the rule tester with a new query, a retry of a
failed delivery, an Atom feed read by feedparser, and a hostile title that must stay text.
The whole suite runs on each state backend (a SQLite file, a PostgreSQL schema of its own).
scripts/install-test-deps.sh installs /usr/bin/chromium; Playwright downloads nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import feedparser
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from monitor.config import settings as config_mod
from monitor.match import load_rules
from monitor.models import Article, Entry, Match
from monitor.store.open import open_store
from monitor.web.explain import as_article
from tests.conftest import free_port
from tests.farm import Farm, write_config
from tests.pgstate import BACKENDS, PgSchema

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script>Alder Crest'


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def _wait(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory):
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/install-test-deps.sh"
    from tests.receivers import WebhookReceiver
    tmp = tmp_path_factory.mktemp("browser")
    schema = PgSchema() if request.param == "postgresql" else None
    receiver = WebhookReceiver()
    receiver.statuses = [500] * 100_000     # down until test_retry_of_a_failed_delivery brings it back
    port = free_port()
    with Farm("--feeds", "12", "--items", "6", "--seed", "2") as farm:     # seed 2: 5 syndicated marked stories
        cfg = write_config(tmp, farm.feed_urls(), rules=REPO / "tests" / "e2e_rules", fetch="respect_robots: false",
                           digest="retry_for_hours: 0.0003",
                           channels=f"[{{name: hook, type: webhook, url: '{receiver.url}', schedule: immediate}}]",
                           extra=f"http: {{listen: '127.0.0.1:{port}'}}\ndefault_channels: [hook]",
                           state_url=schema.url if schema else None)
        log = open(tmp / "daemon.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(lambda: _get(base + "/healthz")[0] == 200, "the first poll cycle")
            _wait(lambda: len(receiver.requests) >= 1, "the first (failing) alert")
            yield {"base": base, "farm": farm, "truth": farm.truth()["articles"], "receiver": receiver,
                   "dir": tmp, "open": lambda: open_store(config_mod.load(cfg)), "log": tmp / "daemon.log"}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            receiver.close()
            if schema:
                schema.drop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not errors, errors


def _deliveries_text(page: Page) -> str:
    """The article page's deliveries table ("" while it has none)."""
    tables = page.locator("h2:text-is('Deliveries') + table.list")
    return tables.last.inner_text() if tables.count() else ""


def _expected_stories(truth: list[dict]) -> dict[int, list[dict]]:
    by_story: dict[int, list[dict]] = {}
    for a in truth:
        by_story.setdefault(a["story"], []).append(a)
    return {sid: arts for sid, arts in by_story.items() if arts[0]["topics"]}


def test_matches_page_story_and_article(page: Page, site):
    page.goto(site["base"] + "/")
    expect(page.locator("h1")).to_have_text("Matches")
    stories = page.locator("li.story")
    expected = _expected_stories(site["truth"])
    assert expected and stories.count() == len(expected)
    assert page.locator("li.story h2 mark").count() >= 1 or page.locator("p.snippet mark").count() >= 1
    # filter by one rule: only stories of that topic remain
    page.select_option("select[name=rule]", "quillmoor")
    page.click("#filters button[type=submit]")
    quill = {sid for sid, arts in expected.items() if "marker-gamma" in arts[0]["topics"]}
    expect(page.locator("li.story")).to_have_count(len(quill))
    # a syndicated story lists its other outlets under it
    page.goto(site["base"] + "/?days=all")
    with_outlets = page.locator("li.story:has(ul.outlets)")
    assert with_outlets.count() >= 1
    with_outlets.first.locator("h2 a").click()
    expect(page.locator("h1")).not_to_be_empty()
    assert page.locator("table.list tbody tr").count() >= 2, "every outlet's copy is listed"
    # a copy that a rule fired on (later copies of a story are often stored without a match)
    page.locator("table.list tbody tr:has(a[href^='/rules/']) a[href^='/articles/']").first.click()
    expect(page.get_by_role("heading", name="Why it matched")).to_be_visible()
    assert page.locator("section.why").count() >= 1
    assert page.locator("div.text mark").count() >= 1, "decisive hits are highlighted in the text"
    expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
    # the immediate channel may not have tried this article yet (the receiver answers 500 and
    # the delivery job backs off): the page shows its delivery once the daemon has made one
    deadline = time.monotonic() + 90
    while "hook" not in _deliveries_text(page) and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    assert "hook" in _deliveries_text(page)


def test_rule_tester_backtests_a_new_query(page: Page, site):
    page.goto(site["base"] + "/tester")
    page.fill("textarea[name=query]", 'Quillmoor OR "Alder Crest"')
    page.fill("input[name=days]", "30")
    page.click("#backtest button[type=submit]")
    expect(page.locator("#progress")).to_contain_text("article(s) scanned")
    shown = page.locator("ol.results li.result").count()
    # the oracle: the rule language itself on every stored article (no index, no page)
    rules = site["dir"] / "oracle.yaml"
    rules.write_text("rules:\n  - id: q\n    query: 'Quillmoor OR \"Alder Crest\"'\n")
    oracle = load_rules(rules)
    store = site["open"]()
    expected = [r for r in store.rows("SELECT * FROM articles") if oracle.match(as_article(r))]
    store.close()
    marked = {a["story"] for a in site["truth"] if {"marker-gamma", "marker-alpha"} & set(a["topics"])}
    assert shown == len(expected) >= len(marked) > 0
    assert f"{shown} match(es)" in page.locator("#progress").inner_text()
    expect(page.locator("pre.yaml")).to_contain_text("query: Quillmoor OR \"Alder Crest\"")
    # a pasted text, live
    page.fill("form[action='/tester/check'] textarea[name=text]", "Nothing about it. Then Project Quillmoor.")
    page.click("form[action='/tester/check'] button[type=submit]")
    expect(page.locator("#check-result")).to_contain_text("Fires")
    expect(page.locator("#check-result mark")).to_have_text("Quillmoor")
    # a syntax error is shown as the rule language reports it
    page.goto(site["base"] + "/tester")
    page.fill("textarea[name=query]", "(Quillmoor")
    page.click("#backtest button[type=submit]")
    expect(page.locator("section.errors")).to_contain_text("<draft>:")


def _oracle(site, query: str) -> int:
    """How many stored articles the rule language itself matches (no index, no page)."""
    rules = site["dir"] / "oracle-live.yaml"
    rules.write_text("rules:\n  - id: q\n    query: '" + query.replace("'", "''") + "'\n")
    oracle = load_rules(rules)
    store = site["open"]()
    try:
        return sum(1 for r in store.rows("SELECT * FROM articles") if oracle.match(as_article(r)))
    finally:
        store.close()


def test_rule_tester_reruns_as_the_analyst_types(page: Page, site):
    page.goto(site["base"] + "/tester?query=Quillmoor&days=30")
    expect(page.locator("#progress")).to_contain_text("article(s) scanned")
    quill = _oracle(site, "Quillmoor")
    assert page.locator("ol.results li.result").count() == quill > 0
    page.evaluate("window.__same_page = 1")              # gone if the page were loaded again
    query = page.locator("textarea[name=query]")
    query.fill("")
    query.press_sequentially('"Alder Crest"', delay=40)  # typed, never submitted
    alder = _oracle(site, '"Alder Crest"')
    assert alder > 0 and alder != quill
    expect(page.locator("#progress")).to_contain_text(f"{alder} match(es) among", timeout=20_000)
    expect(page.locator("#progress")).to_contain_text("article(s) scanned in")
    expect(page.locator("ol.results li.result")).to_have_count(alder)
    expect(page.locator("pre.yaml")).to_contain_text("Alder Crest")
    assert page.evaluate("window.__same_page") == 1, "the page was reloaded instead of updated"
    assert "Alder" in page.url                          # the address follows, so it can be shared
    # the hidden fields of "Try it on a text" follow the draft too
    hidden = page.locator("form[action='/tester/check'] input[name=query]")
    assert hidden.get_attribute("value") == '"Alder Crest"'
    # an invalid draft is reported as it is typed
    query.press_sequentially(" NEAR/", delay=40)
    expect(page.locator("section.errors")).to_contain_text("<draft>:", timeout=20_000)
    expect(page.locator("ol.results")).to_have_count(0)
    assert page.evaluate("window.__same_page") == 1


def _rows(page: Page, base: str, table: str) -> int:
    page.goto(base + "/channels")
    return page.locator(f"#deliveries-{table} tbody tr").count()


def _settle(receiver, quiet: float = 3.0) -> None:
    """Wait until the receiver has had no request for `quiet` seconds (the alerts after the poll are done)."""
    last, since = len(receiver.requests), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.2)
        if len(receiver.requests) != last:
            last, since = len(receiver.requests), time.monotonic()


def test_retry_of_a_failed_delivery(page: Page, site):
    receiver, base = site["receiver"], site["base"]
    # the receiver answers 500 and retry_for_hours is about a second: the alerts are given up
    _wait(lambda: _rows(page, base, "failed") >= 1 and _rows(page, base, "retrying") == 0, "deliveries given up")
    _settle(receiver)
    failed = _rows(page, base, "failed")
    row = page.locator("#deliveries-failed tbody tr").first
    assert "500" in row.inner_text(), "the last error is shown"
    receiver.statuses.clear()                                          # the receiver is back
    before = len(receiver.requests)
    row.get_by_role("button", name="Retry now").click()
    expect(page.locator("p.notice")).to_contain_text("due again")
    _wait(lambda: len(receiver.requests) > before, "the delivery after the retry")
    _wait(lambda: _rows(page, base, "failed") == failed - 1, "the retried delivery leaving the failed list")
    assert _rows(page, base, "retrying") == 0
    body = receiver.requests[before].json()
    assert body["items"], "the retried delivery carried its items"
    page.goto(base + "/?days=all")
    assert any(i["title"] in page.content() for i in body["items"])


def test_atom_feed_parses_with_feedparser(site):
    status, body = _get(site["base"] + "/rules/quillmoor.atom")
    assert status == 200
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.version == "atom10"
    store = site["open"]()
    n = store.rows("SELECT count(*) AS n FROM matches WHERE rule = 'quillmoor'")[0]["n"]
    store.close()
    assert len(parsed.entries) == min(n, 50) > 0
    assert all(e.link.startswith(site["farm"].url) for e in parsed.entries)
    status, js = _get(site["base"] + "/rules/quillmoor.json")
    assert status == 200 and len(json.loads(js)["items"]) == len(parsed.entries)


def test_hostile_title_stays_inert_in_the_browser(page: Page, site):
    store = site["open"]()
    url = "https://hostile.example/1"
    art = Article(url=url, feed_url="https://hostile.example/feed", guid=url, title=HOSTILE,
                  text=f"{HOSTILE} body", source='<svg onload="window.__pwned=3">')
    match = Match(rule="alder-crest", title="Operation Alder Crest")
    [art_id] = store.save_feed_items(art.feed_url, [Entry(art.feed_url, url, url)], [(art, [match], ["hook"])], {})
    store.close()
    for path in ("/?days=all", f"/articles/{art_id}", f"/stories/{art_id}", "/search?q=%22Alder+Crest%22&days=30"):
        page.goto(site["base"] + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("img[src=x]").count() == 0 and page.locator("main script").count() == 0, path
        assert '<img src=x onerror="window.__pwned=1;alert(1)">' in page.locator("main").inner_text(), path
    # the page itself carries a CSP without inline script
    resp = page.request.get(site["base"] + "/")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert re.search(r"unsafe-inline", resp.headers["content-security-policy"]) is None
