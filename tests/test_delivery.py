"""The digest job end to end: outbox -> delivery -> channel, with fixed clocks and real servers."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.deliver.delivery import preview, run_digests
from monitor.store.open import open_store


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(env, now, **kw) -> dict:
    return asyncio.run(run_digests(env.store, env.config, now, **kw))


def titles(messages) -> list[str]:
    out = []
    for m in messages:
        out += [line[2:] for line in m.get_body(("plain",)).get_content().splitlines() if line.startswith("* ")]
    return out


def json_files(env) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(env.config.digests_dir.glob("*.json"))]


def test_smtp_outage_for_two_runs_then_everything_arrives_exactly_once(delivery_env, smtp_server):
    env = delivery_env(f"  - {{name: mail, type: email, schedule: hourly, host: 127.0.0.1, "
                       f"port: {smtp_server.port}, security: none, from: m@example.org, to: a@example.org, "
                       "timeout_seconds: 5}\n")
    smtp_server.stop()
    env.add("First kallas story")
    env.add("Second kallas story")
    first = run(env, utc(2026, 3, 2, 10, 0))
    assert first["retrying"] == 1 and first["sent"] == 0
    env.add("Third kallas story")
    second = run(env, utc(2026, 3, 2, 11, 0))
    assert second["retrying"] == 1 and second["held"] == 1       # the new item waits in the outbox
    smtp_server.start()
    third = run(env, utc(2026, 3, 2, 12, 0))
    assert third["sent"] == 2 and third["items"] == 3 and third["held"] == 0
    assert run(env, utc(2026, 3, 2, 13, 0))["sent"] == 0             # nothing twice, nothing empty
    got = titles(smtp_server.messages)
    assert Counter(got) == Counter(["First kallas story", "Second kallas story", "Third kallas story"])
    first_delivery = env.store.rows("SELECT * FROM deliveries ORDER BY created")[0]
    assert first_delivery["attempts"] == 3 and first_delivery["status"] == "sent"
    assert smtp_server.messages[0]["Message-ID"] == f"<{first_delivery['id']}@example.org>"
    assert env.store.counts()["outbox_pending"] == 0


def test_max_items_leaves_the_rest_for_the_next_digest(delivery_env):
    env = delivery_env("  - {name: files, type: file, schedule: hourly}\n", "  max_items: 2\n")
    for i in range(5):
        env.add(f"Kallas story {i}")
    run(env, utc(2026, 3, 2, 10, 0))
    [doc] = json_files(env)
    assert doc["count"] == 2 and doc["more"] == 3
    assert "and 3 more" in next(env.config.digests_dir.glob("*.html")).read_text()
    run(env, utc(2026, 3, 2, 10, 30))                                  # not due: nothing new
    assert len(json_files(env)) == 1
    run(env, utc(2026, 3, 2, 11, 0))
    run(env, utc(2026, 3, 2, 12, 0))
    sent = [i["title"] for d in json_files(env) for i in d["items"]]
    assert sorted(sent) == [f"Kallas story {i}" for i in range(5)]


def test_force_sends_everything_pending_in_chunks(delivery_env):
    env = delivery_env("  - {name: files, type: file, schedule: 'weekly on mon at 09:00'}\n", "  max_items: 2\n")
    env.store.set_last_scheduled("files", utc(2026, 3, 2, 9, 0))     # not due for a week
    for i in range(5):
        env.add(f"Story {i}")
    assert run(env, utc(2026, 3, 3, 10, 0))["sent"] == 0
    summary = run(env, utc(2026, 3, 3, 10, 0), force=True)
    assert summary["sent"] == 3 and summary["items"] == 5 and summary["held"] == 0


def test_immediate_alerts_are_rate_limited_per_rule(delivery_env, webhook_receiver):
    env = delivery_env(f"  - {{name: hook, type: webhook, schedule: immediate, url: '{webhook_receiver.url}'}}\n",
                       "  immediate_per_rule_per_hour: 2\n")
    for i in range(4):
        env.add(f"Kallas {i}")
    env.add("Safe harbour", rule="safe")
    run(env, utc(2026, 3, 2, 10, 5), immediate_only=True)
    [alert] = [r.json() for r in webhook_receiver.requests]
    assert alert["kind"] == "alert" and [i["rules"][0] for i in alert["items"]].count("kallas") == 2
    assert {i["title"] for i in alert["items"]} == {"Kallas 0", "Kallas 1", "Safe harbour"}
    env.add("Kallas 4")
    run(env, utc(2026, 3, 2, 10, 20), immediate_only=True)
    assert len(webhook_receiver.requests) == 1                       # limit reached, the rest waits
    run(env, utc(2026, 3, 2, 11, 0))                                  # the hourly flush takes the rest
    flush = webhook_receiver.requests[1].json()
    assert flush["kind"] == "digest" and {i["title"] for i in flush["items"]} == {"Kallas 2", "Kallas 3", "Kallas 4"}
    keys = [r.headers["Idempotency-Key"] for r in webhook_receiver.requests]
    assert len(set(keys)) == 2


def test_quiet_hours_hold_normal_items_but_not_high_priority(delivery_env):
    env = delivery_env("  - {name: files, type: file, schedule: 'daily at 06:00'}\n",
                       "  quiet_hours: '22:00-07:00'\n")
    env.store.set_last_scheduled("files", utc(2026, 3, 2, 4, 0))     # 06:00 Tallinn
    env.add("Routine kallas")
    env.add("Urgent kallas", priority="high")
    summary = run(env, utc(2026, 3, 2, 21, 0))                         # 23:00 in Tallinn
    [doc] = json_files(env)
    assert doc["kind"] == "alert" and [i["title"] for i in doc["items"]] == ["Urgent kallas"]
    assert summary["held"] == 1
    run(env, utc(2026, 3, 3, 4, 30))                                   # 06:30 Tallinn: still quiet
    assert len(json_files(env)) == 1
    run(env, utc(2026, 3, 3, 5, 0))                                    # 07:00 Tallinn: the held digest goes
    docs = json_files(env)
    assert [i["title"] for i in docs[-1]["items"]] == ["Routine kallas"]


def test_restart_resumes_with_the_same_delivery_id(delivery_env, webhook_receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "k")
    env = delivery_env(f"  - {{name: hook, type: webhook, url: '{webhook_receiver.url}', secret_env: HOOK_SECRET}}\n")
    env.add("Kallas story")
    webhook_receiver.statuses.append(503)
    assert run(env, utc(2026, 3, 2, 10, 0))["retrying"] == 1
    env.store.close()
    env.store = open_store(env.config)                                 # the daemon restarts
    assert run(env, utc(2026, 3, 2, 10, 5))["sent"] == 1
    first, second = webhook_receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.json() == second.json()                               # same digest, re-rendered
    assert run(env, utc(2026, 3, 2, 11, 0))["sent"] == 0


def test_gives_up_after_retry_for_hours_and_shows_as_failed(delivery_env, webhook_receiver):
    env = delivery_env(f"  - {{name: hook, type: webhook, url: '{webhook_receiver.url}'}}\n",
                       "  retry_for_hours: 1\n")
    webhook_receiver.statuses.extend([500] * 10)
    env.add("Kallas story")
    run(env, utc(2026, 3, 2, 10, 0))
    run(env, utc(2026, 3, 2, 10, 30))
    last = run(env, utc(2026, 3, 2, 11, 0))
    assert last["failed"] == 1
    counts = env.store.counts()
    assert counts["deliveries_failed"] == 1 and counts["outbox_pending"] == 0
    assert "HTTP 500" in env.store.failed_deliveries()[0]["last_error"]
    n = len(webhook_receiver.requests)
    run(env, utc(2026, 3, 2, 12, 0))
    assert len(webhook_receiver.requests) == n


def test_each_channel_gets_each_item_once(delivery_env, webhook_receiver):
    env = delivery_env(f"  - {{name: files, type: file}}\n  - {{name: hook, type: webhook, url: '{webhook_receiver.url}'}}\n"
                       "default_channels: [files, hook]\n")
    env.add("Kallas story")
    assert run(env, utc(2026, 3, 2, 10, 0))["sent"] == 2
    assert run(env, utc(2026, 3, 2, 11, 0), force=True)["sent"] == 0
    assert len(webhook_receiver.requests) == 1 and len(json_files(env)) == 1


def test_empty_digest_only_with_send_empty(delivery_env):
    env = delivery_env("  - {name: files, type: file}\n")
    env.add("Kallas story")
    run(env, utc(2026, 3, 2, 10, 0))                                  # the first digest
    run(env, utc(2026, 3, 2, 11, 0))                                  # nothing new: no empty digest
    assert [d["count"] for d in json_files(env)] == [1]
    env.store.close()
    env2 = delivery_env("  - {name: files, type: file}\n", "  send_empty: true\n")     # same state, new config
    run(env2, utc(2026, 3, 2, 12, 0))
    assert [d["count"] for d in json_files(env2)] == [1, 0]


def test_story_sources_from_the_store_show_as_also_reported_by(delivery_env):
    env = delivery_env("  - {name: files, type: file}\n")
    env.add("Kallas story", story_id=9)
    env.store.story_sources = lambda sid: [{"source": "BBC", "url": "https://bbc.example/x"}]
    run(env, utc(2026, 3, 2, 10, 0))
    assert json_files(env)[0]["items"][0]["also_reported_by"] == [{"source": "BBC", "url": "https://bbc.example/x"}]


def test_preview_writes_nothing(delivery_env):
    env = delivery_env("  - {name: files, type: file}\n")
    env.add("Kallas story")
    before = env.store.counts()
    [d] = preview(env.store, env.config)
    assert d.subject == "monitor: 1 new article - Kallas 1"
    assert env.store.counts() == before and not env.config.digests_dir.exists()


def test_cli_preview_and_send(delivery_env, tmp_path):
    env = delivery_env("  - {name: files, type: 'file', schedule: 'daily at 08:00'}\n")
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(env.yaml)
    runner = CliRunner()
    base = ["--config", str(cfg), "digest"]
    assert runner.invoke(cli, [*base, "--preview"]).output.strip() == "nothing pending"
    env.add("<b>Kallas</b> story")
    out = runner.invoke(cli, [*base, "--preview"])
    assert out.exit_code == 0 and "monitor: 1 new article - Kallas 1" in out.output
    result = runner.invoke(cli, [*base, "--preview", "--html", str(tmp_path / "p.html")])
    html = (tmp_path / "p.html").read_text()
    assert result.exit_code == 0 and "&lt;b&gt;<b class=\"h\">" in html and "<b>" not in html
    assert runner.invoke(cli, [*base, "--preview", "--channel", "nope"]).exit_code == 2
    sent = runner.invoke(cli, [*base, "--send", "--channel", "files"])
    assert sent.exit_code == 0 and json.loads(sent.output)["items"] == 1
    assert len(json_files(env)) == 1
    assert runner.invoke(cli, [*base, "--preview"]).output.strip() == "nothing pending"


def test_rows_claimed_by_a_concurrent_run_are_not_sent_again(delivery_env):
    env = delivery_env("  - {name: files, type: file}\n")
    env.add("Kallas story")
    [row] = env.store.pending_items("files")
    first = env.store.create_delivery("files", [row["outbox_id"]])
    assert env.store.create_delivery("files", [row["outbox_id"]]) is None     # the second claim gets nothing
    assert [d["id"] for d in env.store.due_deliveries(utc(2030, 1, 1))] == [first]
