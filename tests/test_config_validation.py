"""Every value of the config is validated: one row per mistake users make, with its message and line."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from monitor.config import settings as config
from monitor.config.checker import has_bounds
from monitor.config.crossref import missing_env, rule_channel_errors
from monitor.errors import ConfigError
from monitor.match import load_rules

EMAIL = "channels:\n  - name: m\n    type: email\n    host: smtp.example.org\n    from: a@example.org\n" \
        "    to: [desk@example.org]\n"
HOOK = "channels:\n  - name: w\n    type: webhook\n    url: https://hooks.example.org/x\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "c.yaml")
    return exc.value.messages


@pytest.mark.parametrize("text, where, expected", [
    ("retention_days: 0\n", "c.yaml:1:17", "would delete every article"),
    ("retention_days: -5\n", "c.yaml:1:17", "-1 / forever"),
    ("retention_days: soon\n", "c.yaml:1:17", "whole number of days"),
    ("fetch:\n  per_host: -1\n", "c.yaml:2:13", "per_host must be at least 1, got -1"),
    ("fetch:\n  concurrency: 0\n", "c.yaml:2:16", "concurrency must be at least 1, got 0"),
    ("fetch:\n  timeout_seconds: -3\n", "c.yaml:2:20", "timeout_seconds must be greater than 0, got -3"),
    ("fetch:\n  max_body_bytes: 10\n", "c.yaml:2:19", "max_body_bytes must be at least 1024"),
    ("fetch:\n  min_interval_minutes: 60\n  max_interval_minutes: 1\n", "c.yaml:2:3",
     "min_interval_minutes (60) is greater than max_interval_minutes (1)"),
    ("fetch:\n  default_interval_minutes: 1\n", "c.yaml:2:3", "must lie between min_interval_minutes"),
    ("fetch:\n  extract_workers: -2\n", "c.yaml:2:20", "extract_workers must be at least 0"),
    ("fetch:\n  first_poll_alert_hours: lots\n", "c.yaml:2:27", "a number of hours or 'all'"),
    ("fetch:\n  allow_private: ['10.0.0.0/33x']\n", "c.yaml:2:19", "neither a CIDR"),
    ("fetch:\n  user_agent: ''\n", "c.yaml:2:15", "user_agent must not be empty"),
    ("fetch:\n  timeout_second: 3\n", "c.yaml:2:3", "did you mean 'timeout_seconds'?"),
    ("digest:\n  max_items: 0\n", "c.yaml:2:14", "max_items must be at least 1, got 0"),
    ("digest:\n  immediate_per_rule_per_hour: -1\n", "c.yaml:2:32", "must be at least 0, got -1"),
    ("digest:\n  retry_for_hours: 0\n", "c.yaml:2:20", "retry_for_hours must be greater than 0"),
    ("digest:\n  quiet_hours: '25:00-07:00'\n", "c.yaml:2:16", "quiet_hours must look like 22:00-07:00"),
    ("dedupe:\n  story_threshold: 1.5\n", "c.yaml:2:3", "story_threshold must be at most 1"),
    ("dedupe:\n  update_threshold: 0\n", "c.yaml:2:21", "update_threshold must be greater than 0"),
    ("feeds:\n  - url: https://a.example\n    interval_minutes: 0\n", "c.yaml:3:23", "at least 1"),
    ("feeds:\n  - url: 'https://exa mple.org/feed'\n", "c.yaml:2:10", "contains spaces"),
    ("feeds:\n  - url: https:///feed\n", "c.yaml:2:10", "has no host"),
    (EMAIL + "    port: '587'\n", "c.yaml:7:11", "port must be int, got '587': write 587 without quotes"),
    (EMAIL + "    port: 70000\n", "c.yaml:7:11", "port must be from 1 to 65535"),
    (EMAIL.replace("from: a@example.org", "from: not an address"), "c.yaml:5:11", "is not an e-mail address"),
    (EMAIL.replace("to: [desk@example.org]", "to: [desk@example.org, desk]"), "c.yaml:6:28",
     "'desk' is not an e-mail address"),
    (EMAIL + "    security: startls\n", "c.yaml:7:15", "did you mean 'starttls'?"),
    (EMAIL + "    timeout_seconds: 0\n", "c.yaml:7:22", "timeout_seconds must be more than 0"),
    (EMAIL + "    password_env: 'hunter 2'\n", "c.yaml:7:19", "names an environment variable"),
    (EMAIL + "    passwrd_env: X\n", "c.yaml:7:5", "did you mean 'password_env'?"),
    (HOOK.replace("https://hooks.example.org/x", "not-a-url"), "c.yaml:4:10", "webhook url must start with"),
    (HOOK + "    format: slak\n", "c.yaml:5:13", "did you mean 'slack'?"),
    (HOOK + "    enabled: maybe\n", "c.yaml:5:14", "enabled must be bool"),
    ("channels:\n  - {name: a, type: file, schedule: 'daily at 25:00'}\n", "c.yaml:2:37", "not a time of day"),
    ("channels:\n  - {name: a, type: file, schedule: 'weekly on funday at 08:00'}\n", "c.yaml:2:37", "bad schedule"),
    ("channels:\n  - {name: a, type: fil}\n", "c.yaml:2:21", "did you mean 'file'?"),
    ("channels:\n  - {name: archive, type: file}\ndefault_channels: [archve]\n", "c.yaml:3:20",
     "did you mean 'archive'?"),
    ("http:\n  listen: localhost\n", "c.yaml:2:11", "must be HOST:PORT"),
    ("http:\n  listen: '127.0.0.1:99999'\n", "c.yaml:2:11", "port must be a number from 1 to 65535"),
    ("http:\n  listen: 'bad host:80'\n", "c.yaml:2:11", "not a valid host name"),
    ("logging:\n  format: jsn\n", "c.yaml:2:11", "did you mean 'json'?"),
    ("retentoin_days: 3\n", "c.yaml:1:1", "did you mean 'retention_days'?"),
    ("channels:\n  - {name: off, type: file}\n", "c.yaml:2:6", "put it in quotes"),
    ("state:\n  path: ''\n", "c.yaml:2:9", "path must not be empty"),
])
def test_each_mistake_is_an_error_at_its_line(text, where, expected):
    messages = errors_of(text)
    assert any(m.startswith(where + ": ") and expected in m for m in messages), messages


def test_errors_come_out_in_line_order_whatever_the_check_order():
    text = textwrap.dedent("""\
        channels:
          - {name: a, type: webhook, url: nope}
        fetch:
          per_host: 0
        digest:
          max_items: 0
        retention_days: 0
        feeds:
          - url: ftp://x
        """)
    messages = errors_of(text)
    lines = [int(m.split(":")[1]) for m in messages]
    assert lines == sorted(lines) and len(messages) == 5, messages


def test_accepted_values_parse_to_what_they_say(tmp_path):
    cfg = config.parse(textwrap.dedent("""\
        retention_days: forever
        fetch: {first_poll_alert_hours: all, extract_workers: 0}
        http: {listen: '[::1]:9464'}
        channels:
          - {name: a, type: file}
          - {name: paused, type: file, enabled: false}
          - {name: m, type: email, host: smtp.example.org, port: 587, from: 'Desk <d@example.org>',
             to: d@example.org}
        """), "c.yaml", tmp_path)
    assert cfg.retention_days is None
    assert cfg.fetch.first_poll_alert_hours is None
    assert [c.name for c in cfg.channels] == ["a", "m"]
    assert cfg.disabled_channels == ("paused",) and "paused" in cfg.channel_names
    assert config.parse("retention_days: -1\n", "c.yaml").retention_days is None
    assert config.parse("retention_days: 7\n", "c.yaml").retention_days == 7
    assert config.parse("", "c.yaml").fetch.first_poll_alert_hours == 24.0


def test_every_number_in_the_settings_declares_its_bounds():
    for cls in (config.FetchSettings, config.DigestSettings, config.DedupeSettings):
        for f in dataclasses.fields(cls):
            if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
                assert has_bounds(f), f"{cls.__name__}.{f.name} has no bounds (use checker.bounded)"


def test_rules_routed_to_undefined_channels_are_errors_with_a_hint(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: a\n    query: x\n    channels: [archve]\n"
                                     "  - id: b\n    query: y\n    channels: [paused]\n")
    cfg = config.parse("channels:\n  - {name: archive, type: file}\n  - {name: paused, type: file, enabled: false}\n",
                       "c.yaml")
    errors = rule_channel_errors(load_rules(tmp_path).rules, cfg)
    assert len(errors) == 1, errors          # a disabled channel is defined: routing to it is fine
    assert errors[0].startswith(f"{tmp_path / 'r.yaml'}:4:16: rule 'a' routes to channel 'archve'")
    assert "did you mean 'archive'?" in errors[0]


def test_unset_secret_variables_are_named_with_channel_and_line(monkeypatch):
    cfg = config.parse(EMAIL + "    password_env: MONITOR_TEST_UNSET_PW\n"
                       "  - {name: w, type: webhook, url: 'https://h.example.org', secret_env: MONITOR_TEST_SET}\n"
                       "  - {name: p, type: apprise, urls_env: MONITOR_TEST_OFF, enabled: false}\n", "c.yaml")
    monkeypatch.delenv("MONITOR_TEST_UNSET_PW", raising=False)
    monkeypatch.setenv("MONITOR_TEST_SET", "s3cret")
    monkeypatch.delenv("MONITOR_TEST_OFF", raising=False)
    problems = missing_env(cfg)
    assert len(problems) == 1, problems      # the disabled channel's variable is not needed
    assert problems[0].startswith("c.yaml:7:19: channel 'm': password_env names the environment variable "
                                  "MONITOR_TEST_UNSET_PW")
    monkeypatch.setenv("MONITOR_TEST_UNSET_PW", "pw")
    assert missing_env(cfg) == []


def test_unknown_entity_gets_a_did_you_mean(tmp_path):
    (tmp_path / "r.yaml").write_text("entities:\n  kallas: ['\"Kaja Kallas\"']\nrules:\n  - id: a\n"
                                     "    query: '@kalas'\n")
    with pytest.raises(Exception) as exc:
        load_rules(tmp_path)
    assert "did you mean 'kallas'?" in str(exc.value)
