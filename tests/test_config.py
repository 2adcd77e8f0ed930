"""config.py: validation with file:line, defaults, secrets from the environment."""

from pathlib import Path

import pytest

from monitor.config import settings as config
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config.parse(text, "c.yaml")
    return exc.value.messages


def test_shipped_config_is_valid():
    cfg = config.load(REPO / "config" / "monitor.yaml")
    assert len(cfg.feeds) >= 8
    assert all(f.url.startswith("https://") for f in cfg.feeds)
    assert cfg.default_channels == ("archive",)
    assert cfg.channel("archive").type == "file"
    assert cfg.state_path.name == "monitor.db"


@pytest.mark.parametrize("text, expected", [
    ("fetch:\n  timeout_secs: 3\n", "c.yaml:2:3: unknown key 'timeout_secs' in fetch"),
    ("feedz: []\n", "c.yaml:1:1: unknown key 'feedz' in config"),
    ("feeds:\n  - url: ftp://x\n", "c.yaml:2:10: feed url must start with http"),
    ("feeds:\n  - url: https://a\n    tagz: [a]\n", "c.yaml:3:5: unknown key 'tagz' in feed"),
    ("feeds:\n  - name: x\n", "feed needs 'url'"),
    ("fetch:\n  per_host: two\n", "c.yaml:2:13: per_host must be int"),
    ("channels:\n  - name: a\n    type: pigeon\n", "c.yaml:3:11: unknown channel type 'pigeon'"),
    ("channels:\n  - name: a\n    type: file\n    schedule: daily at 8\n", "c.yaml:4:15: bad schedule"),
    ("channels:\n  - name: m\n    type: email\n    host: h\n    from: a@b\n    to: [c@d]\n    password: x\n",
     "c.yaml:7:5: unknown key 'password' in email channel"),
    ("channels:\n  - name: m\n    type: email\n    to: [c@d]\n", "email channel needs 'host'"),
    ("channels:\n  - name: w\n    type: webhook\n    url: http://x\n    format: carrier\n", "format must be one of"),
    ("channels:\n  - {name: a, type: file}\ndefault_channels: [b]\n", "default channel 'b' is not defined"),
    ("digest:\n  timezone: Mars/Olympus\n", "unknown time zone"),
    ("digest:\n  quiet_hours: night\n", "quiet_hours must look like"),
    ("feeds: [\n", "YAML syntax error"),
    ("feeds:\n  - url: https://a\n  - url: https://a\n", "listed twice"),
])
def test_errors_name_file_and_line(text, expected):
    messages = errors_of(text)
    assert any(expected in m for m in messages), messages


def test_every_error_is_reported_at_once():
    messages = errors_of("fetch:\n  bogus: 1\nfeeds:\n  - url: ftp://x\n    color: red\n")
    assert len(messages) == 3


def test_defaults_and_paths(tmp_path):
    cfg = config.parse("channels: [{name: a, type: file}]\n", "c.yaml", tmp_path)
    assert cfg.fetch.per_host == 2
    assert cfg.fetch.max_body_bytes == 10 * 1024 * 1024
    assert cfg.state_path == tmp_path / "state" / "monitor.db"
    assert cfg.default_channels == ("a",)


def test_secrets_come_from_the_environment(monkeypatch):
    cfg = config.parse("channels:\n  - {name: m, type: email, host: h, from: a@b, to: [c@d], "
                       "password_env: MY_SMTP_PW}\n")
    assert cfg.channel("m").options["password_env"] == "MY_SMTP_PW"
    monkeypatch.setenv("MY_SMTP_PW", "s3cret")
    assert config.secret("MY_SMTP_PW") == "s3cret"
    monkeypatch.delenv("MY_SMTP_PW")
    assert config.secret("MY_SMTP_PW") is None


def test_yaml_is_loaded_safely():
    messages = errors_of("feeds: !!python/object/apply:os.system ['echo pwned']\n")
    assert any("YAML" in m or "could not determine a constructor" in m for m in messages)
