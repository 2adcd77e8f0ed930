"""Alias bombs, anchors inside themselves, deep nesting: clear errors, never a RecursionError.

Covers the one YAML loader (config and rules alike), the query parser, and the JSON
Feed parser through a real poll cycle against a publisher on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from monitor.config import settings as config_mod
from monitor.config import yamlsrc
from monitor.errors import ConfigError, RuleError
from monitor.ingest.feeds import parse_feed
from monitor.match import RuleWatcher, load_rules
from tests.publisher import Publisher, poll

REPO = Path(__file__).resolve().parents[1]
MONITOR = [sys.executable, "-m", "monitor"]


def bomb(levels: int = 6, top: str = "rules") -> str:
    """The issue's bomb: each level a list of ten aliases of the one before."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    lines.append(f"{top}: [" + ",".join([f"*l{levels - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_the_alias_bomb_is_refused_cheaply_with_its_position():
    text = bomb(6)
    assert len(text) < 400
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(yaml.YAMLError) as info:
            yamlsrc.load(text, "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0
    assert peak < 20 * 1024 * 1024, peak
    msg = yamlsrc.error_location(info.value, "bomb.yaml")
    assert msg.startswith("bomb.yaml:") and "alias" in msg and "100000" in msg


def test_aliases_are_shared_not_copied():
    doc = yamlsrc.load("a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n", "f.yaml")
    assert doc["a"] is doc["b"] is doc["c"][0] is doc["c"][1]
    assert doc["b"].where() == "f.yaml:1:4"      # where the anchored value starts


def test_legitimate_aliases_below_the_cap_still_load(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "entities:\n  kallas: &k ['\"Kaja Kallas\"', 'Kallas']\n  kaja: *k\n"
        "rules:\n  - id: a\n    query: '@kallas'\n    languages: &langs [en, de]\n"
        "  - id: b\n    query: '@kaja'\n    languages: *langs\n")
    rs = load_rules(tmp_path)
    assert [r.id for r in rs.rules] == ["a", "b"]


def test_the_cap_is_a_config_key_and_applies_to_rules(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: a\n    query: x\n    tags: &t [a, b, c, d, e, f]\n"
        "  - id: b\n    query: y\n    tags: *t\n  - id: c\n    query: z\n    tags: *t\n")
    assert load_rules(tmp_path / "rules", max_alias_values=100)
    with pytest.raises(RuleError, match=r"r\.yaml:\d+:\d+: YAML refused: aliases expand .* more than 10 values"):
        load_rules(tmp_path / "rules", max_alias_values=10)
    cfg = config_mod.parse(f"rules: {{path: {tmp_path}/rules, max_alias_values: 10}}\n", "c.yaml")
    assert cfg.rules_max_alias_values == 10
    watcher = RuleWatcher(cfg.rules_path, max_alias_values=cfg.rules_max_alias_values)
    assert watcher.current is None and "more than 10 values" in watcher.errors[0]
    with pytest.raises(ConfigError, match="max_alias_values"):
        config_mod.parse("rules: {max_alias_values: many}\n", "c.yaml")


def test_the_bomb_in_the_config_file_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        config_mod.parse(bomb(6, top="feeds"), "monitor.yaml")
    assert info.value.messages[0].startswith("monitor.yaml:") and "alias" in info.value.messages[0]


@pytest.mark.parametrize("text,expected", [
    ("rules: &r\n  - *r\n", "refers to itself"),
    ("a: &m\n  k: [1, *m]\n", "refers to itself"),
    ("rules: " + "[" * 500 + "]" * 500 + "\n", "nested more than"),
    ("rules: " + "{a: " * 400 + "x" + "}" * 400 + "\n", "nested more than"),
])
def test_recursive_and_deep_yaml_is_a_positioned_error(text, expected):
    with pytest.raises(yaml.YAMLError) as info:
        yamlsrc.load(text, "r.yaml")
    msg = yamlsrc.error_location(info.value, "r.yaml")
    assert expected in msg and msg.startswith("r.yaml:1:")


def _rules_check(rules_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*MONITOR, "rules", "check", "--rules", str(rules_dir)], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("body,expected", [
    ("rules: &r\n  - id: x\n    query: *r\n", "refers to itself"),
    ("rules:\n  - id: deep\n    query: '" + "(" * 300 + "kallas" + ")" * 300 + "'\n", "nested more than 50"),
    ("rules:\n  - id: nots\n    query: 'kallas " + "NOT " * 1000 + "x'\n", "nested more than 50"),
])
def test_rules_check_reports_recursion_as_an_error_not_a_traceback(tmp_path, body, expected):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(body)
    out = _rules_check(tmp_path / "rules", tmp_path)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "RecursionError" not in out.stderr
    assert f"{tmp_path}/rules/r.yaml:" in out.stderr and expected in out.stderr


def test_a_running_daemon_reports_a_recursive_rule_file(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: ok\n    query: kallas\n")
    w = RuleWatcher(tmp_path)
    assert w.current is not None
    (tmp_path / "r.yaml").write_text("rules:\n  - id: deep\n    query: '" + "(" * 300 + "x" + ")" * 300 + "'\n")
    assert w.refresh() is False
    assert w.current is not None and [r.id for r in w.current.rules] == ["ok"]   # the last valid set stays
    assert w.errors and "nested more than 50" in w.errors[0]


def test_query_nesting_within_the_limit_still_parses(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: ok\n    query: '" + "(" * 40 + "kallas" + ")" * 40 + "'\n")
    assert load_rules(tmp_path).rules[0].id == "ok"


def test_deep_json_feed_is_a_feed_error():
    with pytest.raises(Exception) as info:
        parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100000 + b"]" * 100000
                   + b"}", "http://x/feed.json", "application/feed+json")
    assert type(info.value).__name__ == "FeedParseError" and "nested too deeply" in str(info.value)


def test_deep_json_feed_through_the_poll_cycle_is_recorded_as_a_feed_error(tmp_path):
    deep = b'{"version": "https://jsonfeed.org/version/1.1", "title": ' + b"[" * 200000 + b"]" * 200000 + b"}"
    ok = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "fine",
                     "items": [{"id": "1", "url": "http://127.0.0.1:9/a", "title": "Kallas speaks",
                                "content_text": "Kaja Kallas said"}]}).encode()
    with Publisher({"/deep.json": ("application/feed+json", deep), "/ok.json": ("application/feed+json", ok)}) as pub:
        cfg = config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/d}}
rules: {{path: {tmp_path}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false, timeout_seconds: 10, first_poll_alert_hours: all}}
channels: [{{name: archive, type: file}}]
feeds: [{{url: '{pub.url("/deep.json")}'}}, {{url: '{pub.url("/ok.json")}'}}]
""", "c.yaml")
        (tmp_path / "rules").mkdir()
        summary, feeds, records = poll(cfg)
    deep_row = feeds[pub.url("/deep.json")]
    assert deep_row["last_error"] == "FeedParseError: invalid JSON Feed: nested too deeply"
    assert feeds[pub.url("/ok.json")]["last_error"] is None
    assert not any(r.exc_info for r in records), [r.getMessage() for r in records]
    assert not any("internal error" in r.getMessage() for r in records)
