"""Publisher text and credentials on their way out: terminal, text log, retention, webhooks.

Commands run as real processes (`python -m monitor ...`) so that what reaches stdout and
stderr is what a terminal would get; the webhook receiver is a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor import logs
from monitor.config import settings as config_mod
from monitor.deliver.channels import file as file_channel
from monitor.errors import ConfigError
from monitor.redact import redact_url, scrub
from monitor.sanitize import strip_controls
from tests.publisher import Publisher

REPO = Path(__file__).resolve().parents[1]
CONTROLS = [c for c in map(chr, [*range(0, 9), *range(11, 32), *range(0x7f, 0xa0)])]
HOSTILE_TITLE = "Kallas \x1b]0;owned\x07\x1b[2J\x1b[31mred\x9b1m\rcovered\x90dcs\x9c end"


def monitor(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})})


def controls_in(text: str) -> list[str]:
    return sorted({repr(c) for c in text if c in CONTROLS})


# -- terminal: digest --preview ---------------------------------------------------------

def test_digest_preview_prints_no_control_characters(tmp_path, delivery_env):
    env = delivery_env("  - name: desk\n    type: file\n    schedule: hourly\n")
    env.add(HOSTILE_TITLE, source="Feed \x1b[5mblink\x07", text="Kallas said \x1b[8mhidden\x1b[0m things\x85 here.")
    (tmp_path / "c.yaml").write_text(env.yaml)
    out = monitor("--config", "c.yaml", "digest", "--preview", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Kallas" in out.stdout and "covered" in out.stdout and "end" in out.stdout
    assert controls_in(out.stdout + out.stderr) == []


def test_every_command_output_goes_through_the_filter():
    """The guard on sys.stdout/sys.stderr: extract, rules test, status ... all print through it."""
    import click
    from click.testing import CliRunner

    from monitor.cli.main import cli

    @cli.command("echo-hostile", hidden=True)
    def _echo():
        click.echo(HOSTILE_TITLE)
        click.echo(HOSTILE_TITLE, err=True)
    try:
        result = CliRunner().invoke(cli, ["echo-hostile"])
    finally:
        cli.commands.pop("echo-hostile")
    assert result.exit_code == 0
    assert controls_in(result.output) == [] and "covered" in result.output


# -- the text log -----------------------------------------------------------------------

def test_text_log_strips_controls_and_cannot_be_forged(capsys):
    logs.setup("text")
    try:
        logging.getLogger("monitor.test").warning("feed title %s", "x\x1b[2Jy\n2026-12-01 00:00:00,000 ERROR   forged")
    finally:
        logging.getLogger().handlers[:] = []
    err = capsys.readouterr().err
    assert controls_in(err) == []
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 2 and lines[1].startswith("    2026-12-01")   # a continuation, not a record


def test_json_log_escapes_c1_and_line_separators(capsys):
    logs.setup("json")
    try:
        logging.getLogger("monitor.test").warning("a\x9bb\u2028c\x1bd")
    finally:
        logging.getLogger().handlers[:] = []
    err = capsys.readouterr().err
    assert controls_in(err.rstrip("\n")) == [] and "\u2028" not in err
    assert json.loads(err)["message"] == "a\x9bb\u2028c\x1bd"        # the data is intact


def test_poll_text_log_of_hostile_urls_has_no_controls(tmp_path):
    """Through the real daemon path: `monitor poll --once` logging a hostile item link."""
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t\x1b[31m",
            "items": [{"id": "1", "url": "http://10.0.0.1/\x1b]0;owned\x07\n2026 ERROR forged", "title": "Kallas",
                       "content_text": "Kallas"}]}
    with Publisher({"/f.json": ("application/feed+json", json.dumps(feed).encode())}) as pub:
        (tmp_path / "rules").mkdir()
        (tmp_path / "c.yaml").write_text(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/d}}
rules: {{path: {tmp_path}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], respect_robots: false, first_poll_alert_hours: all}}
channels: [{{name: archive, type: file}}]
feeds: [{{url: '{pub.url("/f.json")}'}}]
""")
        out = monitor("--config", "c.yaml", "poll", "--once", "--all", "-v", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "10.0.0.1" in out.stderr                              # the line was logged ...
    assert controls_in(out.stderr) == []                         # ... without its controls
    assert all(line[:4].isdigit() or line.startswith("    ") for line in out.stderr.splitlines() if line)


# -- retention ----------------------------------------------------------------------------

def test_retention_deletes_only_monitors_own_digest_files(tmp_path):
    folder = tmp_path / "shared-folder"
    (folder / "sub").mkdir(parents=True)
    uid = "0b8e6d1c-3f7a-4a57-9a43-5d2f1b7c9e01"
    mine = [f"20260101T080000Z-desk-{uid}.eml", f"20260101T080000Z-desk-{uid}.html",
            f"20260101T080000Z-desk-{uid}.json", f".20260101T080000Z-desk-{uid}.eml3k2j1.tmp"]
    users = ["report.html", "data.json", "letter.eml", "notes.txt", f"sub/20260101T080000Z-desk-{uid}.eml",
             "20260101-desk.html", f"x20260101T080000Z-desk-{uid}.eml"]
    for name in mine + users:
        (folder / name).write_text("x")
    (tmp_path / "elsewhere.eml").write_text("keep")
    os.symlink(tmp_path / "elsewhere.eml", folder / f"20260102T080000Z-desk-{uid}.eml")
    past = time.time() - 200 * 86400
    for p in folder.rglob("*"):
        os.utime(p, (past, past), follow_symlinks=False)
    assert file_channel.prune(folder, 90) == len(mine)
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())
    assert left == sorted(users + [f"20260102T080000Z-desk-{uid}.eml"])
    assert (tmp_path / "elsewhere.eml").read_text() == "keep"


@pytest.mark.parametrize("name", ["a/b", "../up", "..", ".hidden", "x\\y", "tab\tname", "new\nline", "c:d", ""])
def test_channel_names_that_cannot_be_file_names_are_config_errors(name):
    with pytest.raises(ConfigError) as info:
        config_mod.parse(f"channels:\n  - name: {json.dumps(name)}\n    type: file\n", "c.yaml")
    assert any(m.startswith("c.yaml:2:") and "name" in m for m in info.value.messages), info.value.messages


def test_ordinary_channel_names_still_pass():
    cfg = config_mod.parse("channels:\n  - {name: Morning desk, type: file}\n  - {name: eu-news_2.0, type: file}\n"
                           "  - {name: Ελλάδα, type: file}\n", "c.yaml")
    assert [c.name for c in cfg.channels] == ["Morning desk", "eu-news_2.0", "Ελλάδα"]


# -- webhook URLs are credentials -------------------------------------------------------

TOKEN = "T0AAA/B0BBB/Zx9SecretWebhookToken42"


def webhook_yaml(tmp_path, receiver_url: str, via_env: bool) -> str:
    target = "url_env: MONITOR_TEST_HOOK_URL" if via_env else f"url: '{receiver_url}'"
    return f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/d}}
channels:
  - name: chat
    type: webhook
    format: slack
    schedule: hourly
    {target}
"""


@pytest.mark.parametrize("via_env", [True, False], ids=["url_env", "url-in-yaml"])
def test_webhook_url_never_shown_by_send_status_or_logs(tmp_path, webhook_receiver, delivery_env, via_env):
    url = webhook_receiver.url.replace("/hook", f"/services/{TOKEN}")
    env = delivery_env(webhook_yaml(tmp_path, url, via_env).split("channels:\n", 1)[1])
    env.add("Kallas in Brussels")
    (tmp_path / "c.yaml").write_text(env.yaml)
    webhook_receiver.statuses = [500] * 10
    hook_env = {"MONITOR_TEST_HOOK_URL": url}
    sent = monitor("--config", "c.yaml", "digest", "--send", cwd=tmp_path, env=hook_env)
    assert webhook_receiver.requests and webhook_receiver.requests[0].path == f"/services/{TOKEN}"
    assert sent.returncode == 1
    status = monitor("--config", "c.yaml", "status", cwd=tmp_path, env=hook_env)
    status_json = monitor("--config", "c.yaml", "status", "--json", cwd=tmp_path, env=hook_env)
    for out in (sent, status, status_json):
        everything = out.stdout + out.stderr
        assert "Zx9SecretWebhookToken42" not in everything and "B0BBB" not in everything, everything
    assert "HTTP 500" in sent.stderr and redact_url(url) in sent.stderr     # the warning, redacted
    # the stored error, which status shows, is redacted at the source
    from monitor.store.open import open_store
    store = open_store(env.config)
    try:
        errors = [r["last_error"] for r in store.rows("SELECT last_error FROM deliveries")]
    finally:
        store.close()
    assert errors and all(TOKEN not in (e or "") for e in errors)


def test_url_env_is_validated_and_an_unset_variable_is_a_delivery_error(tmp_path, delivery_env):
    with pytest.raises(ConfigError, match="url_env"):
        config_mod.parse("channels: [{name: c, type: webhook, url: 'http://x/h', url_env: HOOK}]\n", "c.yaml")
    with pytest.raises(ConfigError, match="url_env"):
        config_mod.parse("channels: [{name: c, type: webhook}]\n", "c.yaml")
    with pytest.raises(ConfigError, match="url_env names an environment variable"):
        config_mod.parse("channels: [{name: c, type: webhook, url_env: 'https://hooks.slack.com/x'}]\n", "c.yaml")
    env = delivery_env("  - {name: chat, type: webhook, url_env: MONITOR_UNSET_HOOK_URL_FOR_TEST}\n")
    env.add("Kallas")
    (tmp_path / "c.yaml").write_text(env.yaml)
    sent = monitor("--config", "c.yaml", "digest", "--send", cwd=tmp_path)
    assert sent.returncode == 1 and "MONITOR_UNSET_HOOK_URL_FOR_TEST is not set" in sent.stderr


def test_redaction_helpers():
    assert redact_url("https://hooks.slack.com/services/T0/B0/xyz?x=1#f") == "https://hooks.slack.com/…"
    assert redact_url("https://user:pw@discord.com:8443/api/webhooks/1/tok") == "https://discord.com:8443/…"
    assert redact_url("not a url") == "***"
    secret = "https://prod.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456?sig=zz"
    text = f"POST {secret} failed; encoded {secret.replace('@', '%40')}"
    assert scrub(text, [secret]) == "POST https://prod.webhook.office.com/… failed; encoded https://prod.webhook.office.com/…"
    assert strip_controls(scrub("pw hunter2hunter2\x1b", ["hunter2hunter2"])) == "pw ***"
