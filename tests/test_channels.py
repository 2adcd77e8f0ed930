"""Channels against real servers on 127.0.0.1: file output, SMTP (aiosmtpd), webhooks."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import re
import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.config import settings as config_mod
from monitor.deliver.channels import REGISTRY, make_channel
from monitor.deliver.digest import build_digest
from monitor.errors import DeliveryError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script> Kallas resigns"


def digest():
    text = "In Tallinn today Kallas said <img src=x onerror=alert(1)> nothing."
    k = text.index("Kallas")
    rows = [{"outbox_id": 1, "id": 1, "rule": "kallas", "priority": "high", "rule_title": "Kaja Kallas",
             "url": "https://news.example/a?x=1&y=2", "title": EVIL, "summary": "", "text": text,
             "source": "ERR", "feed_url": "f", "published": "2026-03-02T09:00:00+00:00",
             "text_source": "page", "story_id": None,
             "hits": json.dumps([{"field": "text", "start": k, "end": k + 6, "text": "Kallas"}])}]
    return build_digest(rows, channel="test", created=NOW, timezone="Europe/Tallinn", delivery_id="d-42")


def unescape(markdown: str) -> str:
    """What a Markdown renderer shows for backslash-escaped text."""
    return re.sub(r"\\(.)", r"\1", markdown)


def channel(tmp_path, yaml_channel: str):
    cfg = config_mod.parse(f"state:\n  digests_dir: {tmp_path}/digests\nchannels:\n  - {yaml_channel}\n",
                           "t.yaml", tmp_path)
    return make_channel(cfg.channels[0], cfg)


def test_registry_has_the_builtin_types(tmp_path):
    channel(tmp_path, "{name: f, type: file}")
    assert {"file", "email", "webhook"} <= set(REGISTRY)


def test_file_channel_writes_eml_html_json_atomically(tmp_path):
    ch = channel(tmp_path, "{name: f, type: file}")
    asyncio.run(ch.send(digest(), "d-42"))
    asyncio.run(ch.send(digest(), "d-42"))             # a retry rewrites, never duplicates
    files = sorted(p.name for p in (tmp_path / "digests").iterdir())
    assert files == ["20260302T120000Z-test-d-42.eml", "20260302T120000Z-test-d-42.html",
                     "20260302T120000Z-test-d-42.json"]
    doc = json.loads((tmp_path / "digests" / files[2]).read_text())
    assert doc["schema"] == "monitor.digest/1" and doc["items"][0]["title"] == EVIL
    msg = message_from_bytes((tmp_path / "digests" / files[0]).read_bytes(), policy=policy.default)
    assert msg["Message-ID"] == "<d-42@localhost>"
    assert "&lt;script&gt;" in (tmp_path / "digests" / files[1]).read_text()


def test_file_channel_failure_is_a_delivery_error(tmp_path):
    (tmp_path / "blocker").write_text("a file, not a directory")
    ch = channel(tmp_path, f"{{name: f, type: file, path: {tmp_path}/blocker/sub}}")
    with pytest.raises(DeliveryError):
        asyncio.run(ch.send(digest(), "d-1"))


def test_email_multipart_escaped_with_message_id(tmp_path, smtp_server, monkeypatch):
    smtp_server.users["mon"] = "s3cret"
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    ch = channel(tmp_path, f"{{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                           "security: none, username: mon, password_env: TEST_SMTP_PASSWORD, "
                           "from: monitor@example.org, to: [a@example.org, b@example.org]}")
    asyncio.run(ch.send(digest(), "d-42"))
    [msg] = smtp_server.messages
    assert smtp_server.mailbox.envelopes[0].rcpt_tos == ["a@example.org", "b@example.org"]
    assert msg["Message-ID"] == "<d-42@example.org>"
    assert msg["Subject"] == "monitor: 1 new article - Kaja Kallas 1"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert EVIL in text and "*Kallas*" in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x" in html
    assert '<b class="h">Kallas</b>' in html
    assert 'href="https://news.example/a?x=1&amp;y=2"' in html
    assert "11:00 EET" in text                                     # time in the configured zone


def test_email_wrong_password_is_a_delivery_error(tmp_path, smtp_server, monkeypatch):
    smtp_server.users["mon"] = "right"
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    ch = channel(tmp_path, f"{{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                           "security: none, username: mon, password_env: TEST_SMTP_PASSWORD, "
                           "from: m@example.org, to: a@example.org}")
    with pytest.raises(DeliveryError, match="SMTP"):
        asyncio.run(ch.send(digest(), "d-1"))
    assert smtp_server.messages == []


def test_email_starttls_never_downgrades_to_plain(tmp_path, smtp_server):
    ch = channel(tmp_path, f"{{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                           "security: starttls, from: m@example.org, to: a@example.org}")
    with pytest.raises(DeliveryError, match="STARTTLS|starttls"):
        asyncio.run(ch.send(digest(), "d-1"))
    assert smtp_server.messages == []


def test_email_server_down_is_a_delivery_error(tmp_path, smtp_server):
    smtp_server.stop()
    ch = channel(tmp_path, f"{{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, "
                           "security: none, from: m@example.org, to: a@example.org, timeout_seconds: 5}")
    with pytest.raises(DeliveryError):
        asyncio.run(ch.send(digest(), "d-1"))


def test_webhook_json_signed_with_idempotency_key(tmp_path, webhook_receiver, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", "topsecret")
    ch = channel(tmp_path, f"{{name: hook, type: webhook, url: '{webhook_receiver.url}', "
                           "secret_env: TEST_HOOK_SECRET, headers: {X-Extra: abc}}")
    asyncio.run(ch.send(digest(), "d-42"))
    [req] = webhook_receiver.requests
    expected = "sha256=" + hmac.new(b"topsecret", req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Monitor-Signature"] == expected
    assert req.headers["Idempotency-Key"] == "d-42"
    assert req.headers["X-Extra"] == "abc"
    doc = req.json()
    assert doc["schema"] == "monitor.digest/1" and doc["delivery_id"] == "d-42"
    assert doc["items"][0]["title"] == EVIL and doc["items"][0]["priority"] == "high"


def test_webhook_without_secret_is_unsigned(tmp_path, webhook_receiver):
    ch = channel(tmp_path, f"{{name: hook, type: webhook, url: '{webhook_receiver.url}'}}")
    asyncio.run(ch.send(digest(), "d-1"))
    assert "X-Monitor-Signature" not in webhook_receiver.requests[0].headers


@pytest.mark.parametrize("status", [500, 404, 429])
def test_webhook_non_2xx_is_a_delivery_error(tmp_path, webhook_receiver, status):
    webhook_receiver.statuses.append(status)
    ch = channel(tmp_path, f"{{name: hook, type: webhook, url: '{webhook_receiver.url}'}}")
    with pytest.raises(DeliveryError, match=str(status)):
        asyncio.run(ch.send(digest(), "d-1"))


def test_webhook_unreachable_is_a_delivery_error(tmp_path):
    with socket.socket() as s:              # a port that was free a moment ago: nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = channel(tmp_path, f"{{name: hook, type: webhook, url: 'http://127.0.0.1:{port}/x', timeout_seconds: 5}}")
    with pytest.raises(DeliveryError, match="ConnectError"):
        asyncio.run(ch.send(digest(), "d-1"))


@pytest.mark.parametrize("fmt,check", [
    ("slack", lambda d: d["blocks"][0]["type"] == "header" and "&lt;script&gt;" in d["blocks"][1]["text"]["text"]),
    ("discord", lambda d: unescape(d["embeds"][0]["title"]) == EVIL and d["allowed_mentions"] == {"parse": []}),
    ("teams", lambda d: d["type"] == "message" and d["attachments"][0]["content"]["type"] == "AdaptiveCard"
     and "kallas" in json.dumps(d).lower()),
    ("teams-legacy", lambda d: d["@type"] == "MessageCard" and "kallas" in d["text"].lower()),
    ("mattermost", lambda d: "https://news.example/a?x=1&y=2" in d["text"]),
])
def test_webhook_chat_formats(tmp_path, webhook_receiver, fmt, check):
    ch = channel(tmp_path, f"{{name: hook, type: webhook, format: {fmt}, url: '{webhook_receiver.url}'}}")
    asyncio.run(ch.send(digest(), "d-1"))
    assert check(webhook_receiver.requests[0].json())


def test_unknown_type_is_rejected(tmp_path):
    cfg = config_mod.parse(f"state:\n  digests_dir: {tmp_path}\nchannels:\n  - {{name: f, type: file}}\n",
                           "t.yaml", tmp_path)
    bad = config_mod.ChannelSettings(name="x", type="pigeon")
    with pytest.raises(ValueError, match="pigeon"):
        make_channel(bad, cfg)
    assert Path(tmp_path).exists()


def test_apprise_channel_reaches_a_service_and_reports_failures(tmp_path, webhook_receiver, monkeypatch):
    # Apprise's json:// service POSTs {title, message, type} to any HTTP endpoint: here our receiver.
    target = webhook_receiver.url.replace("http://", "json://")
    monkeypatch.setenv("TEST_APPRISE_URLS", target)
    ch = channel(tmp_path, "{name: phones, type: apprise, urls_env: TEST_APPRISE_URLS}")
    d = digest()
    asyncio.run(ch.send(d, "d-7"))
    [req] = webhook_receiver.requests
    doc = req.json()
    assert doc["title"] == d.subject
    assert EVIL in doc["message"] and "Kallas" in doc["message"]
    webhook_receiver.statuses.append(500)
    with pytest.raises(DeliveryError, match="did not accept"):
        asyncio.run(ch.send(d, "d-8"))
    monkeypatch.delenv("TEST_APPRISE_URLS")
    with pytest.raises(DeliveryError, match="TEST_APPRISE_URLS is not set"):
        asyncio.run(ch.send(d, "d-9"))
