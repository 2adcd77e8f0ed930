"""monitor feeds add / remove / pause / resume: the config file and the store stay consistent."""

from pathlib import Path

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import settings as config
from monitor.store.sqlite import Store

CONFIG = """# my config
state: {{path: {tmp}/m.db}}
channels: [{{name: a, type: file}}]
feeds:
  # the first feed
  - url: https://one.example/feed
    name: One
  - url: https://two.example/feed
    tags: [eu]
# trailing comment
"""


def setup(tmp_path: Path) -> Path:
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(CONFIG.format(tmp=tmp_path))
    return cfg


def invoke(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), "feeds", *args])


def test_add_and_remove_edit_the_config_and_keep_its_comments(tmp_path):
    cfg = setup(tmp_path)
    assert invoke(cfg, "add", "https://three.example/rss", "--name", "Three", "--tag", "uk", "--force").exit_code == 0
    urls = [f.url for f in config.load(cfg).feeds]
    assert urls == ["https://one.example/feed", "https://two.example/feed", "https://three.example/rss"]
    assert config.load(cfg).feeds[2].tags == ("uk",)
    assert "already" in invoke(cfg, "add", "https://three.example/rss").output
    result = invoke(cfg, "remove", "https://one.example/feed")
    assert result.exit_code == 0, result.output
    text = cfg.read_text()
    assert [f.url for f in config.load(cfg).feeds] == ["https://two.example/feed", "https://three.example/rss"]
    assert "# my config" in text and "# trailing comment" in text and "# the first feed" in text
    assert invoke(cfg, "remove", "https://nope.example/").exit_code == 1


def test_an_invalid_result_is_not_written(tmp_path):
    cfg = setup(tmp_path)
    before = cfg.read_text()
    result = invoke(cfg, "add", "ftp://bad.example/feed", "--force")
    assert result.exit_code == 1 and "would not validate" in result.output
    assert cfg.read_text() == before


def test_pause_and_resume_change_what_is_polled(tmp_path):
    cfg = setup(tmp_path)
    assert invoke(cfg, "pause", "https://two.example/feed").exit_code == 0
    store = Store(tmp_path / "m.db")
    from monitor.store.sqlite import now_utc
    due = [f["url"] for f in store.due_feeds(now_utc())]
    assert due == ["https://one.example/feed"]
    assert invoke(cfg, "resume", "https://two.example/feed").exit_code == 0
    assert len(store.due_feeds(now_utc())) == 2
    assert invoke(cfg, "pause", "https://unknown.example/").exit_code == 1


def test_removing_the_last_and_a_middle_feed(tmp_path):
    cfg = setup(tmp_path)
    assert invoke(cfg, "add", "https://three.example/rss", "--force").exit_code == 0
    assert invoke(cfg, "remove", "https://two.example/feed").exit_code == 0
    assert [f.url for f in config.load(cfg).feeds] == ["https://one.example/feed", "https://three.example/rss"]
    assert invoke(cfg, "remove", "https://three.example/rss").exit_code == 0
    assert [f.url for f in config.load(cfg).feeds] == ["https://one.example/feed"]
    assert "# trailing comment" in cfg.read_text()
