"""`monitor feeds import|export|list` through click, on a temporary config and state."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.feeds import insert_feeds
from monitor.cli.main import cli
from monitor.config import settings as config_mod
from monitor.store.sqlite import Store

OPML = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "opml" / "plenaryapp__recommended__News.opml"
if not OPML.is_file():
    raise RuntimeError(f"shared material missing: expected {OPML}")

CONFIG = """# monitor config
state:
  path: {state}
feeds:
  - url: http://feeds.bbci.co.uk/news/world/rss.xml   # already here
    name: BBC
# channels below
channels:
  - name: out
    type: file
    path: {out}
"""


def setup(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state.db", out=tmp_path / "out"))
    return path


def invoke(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), "feeds", *args], catch_exceptions=False)


def test_import_prints_yaml_of_new_feeds(tmp_path):
    cfg = setup(tmp_path)
    res = invoke(cfg, "import", str(OPML))
    assert res.exit_code == 0
    assert res.stdout.count("- url:") == 10 and "bbci" not in res.stdout
    assert "Yahoo News - Latest News & Headlines" in res.stdout


def test_import_write_keeps_comments_and_validates(tmp_path):
    cfg = setup(tmp_path)
    assert invoke(cfg, "import", "--write", str(OPML)).exit_code == 0
    text = cfg.read_text()
    assert "# already here" in text and "# channels below" in text
    conf = config_mod.parse(text, str(cfg))
    assert len(conf.feeds) == 11 and conf.feeds[0].name == "BBC" and conf.feeds[1].tags == ("News",)
    assert len(conf.channels) == 1
    assert "added 0 feeds" in invoke(cfg, "import", "--write", str(OPML)).stdout


def test_insert_feeds_into_empty_or_missing_block():
    snippet = "  - url: http://x/f\n"
    assert insert_feeds("feeds: []\nchannels: []\n", snippet) == "feeds:\n  - url: http://x/f\nchannels: []\n"
    assert insert_feeds("retention_days: 3", snippet) == "retention_days: 3\nfeeds:\n  - url: http://x/f\n"
    assert insert_feeds("feeds:\n- url: http://a/f\n", snippet) == "feeds:\n- url: http://a/f\n- url: http://x/f\n"


def test_export_is_opml_of_the_config(tmp_path):
    res = invoke(setup(tmp_path), "export")
    assert res.exit_code == 0 and res.stdout.startswith("<?xml") and "feeds.bbci.co.uk" in res.stdout


def test_list_shows_health_from_the_store(tmp_path):
    cfg = setup(tmp_path)
    conf = config_mod.load(cfg)
    store = Store(conf.state_path)
    store.sync_feeds(conf.feeds)
    store.update_feed(conf.feeds[0].url, state="active", error_count=3, last_error="HTTP 503", last_status=503)
    store.close()
    table = invoke(cfg, "list")
    assert table.exit_code == 0 and "HTTP 503" in table.stdout and "1 feeds, 1 failing" in table.stdout
    rows = json.loads(invoke(cfg, "list", "--json").stdout)
    assert rows[0]["error_count"] == 3 and rows[0]["last_status"] == 503 and rows[0]["name"] == "BBC"
