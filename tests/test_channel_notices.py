"""A failing channel is reported through the other channels: a notice queued once per episode,
delivered at once on an immediate channel (and in the next digest elsewhere)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from monitor.daemon.notices import NOTICE_RULE, queue_channel_notices
from monitor.deliver.delivery import run_digests
from monitor.store.sqlite import now_utc
from tests.conftest import free_port

CHANNELS = """  - {{name: hook, type: webhook, url: 'http://127.0.0.1:{port}/x', timeout_seconds: 2, schedule: immediate}}
  - {{name: desk, type: file, schedule: immediate}}
"""


def notices_on(env, channel: str) -> list[dict]:
    rows = env.store.rows("SELECT a.title, a.text, o.status FROM outbox o JOIN articles a ON a.id = o.article_id "
                          "WHERE o.rule = ? AND o.channel = ?", [NOTICE_RULE, channel])
    return rows


def test_a_failing_channel_is_reported_on_the_others_once_per_episode(delivery_env, tmp_path):
    env = delivery_env(CHANNELS.format(port=free_port()), "  channel_alert_after_minutes: 30\n")
    env.add("Kallas in Tallinn", priority="high", channels=("hook",))
    now = now_utc()
    asyncio.run(run_digests(env.store, env.config, now=now))        # hook fails: nothing listens there
    health = env.store.channel_health()["hook"]
    assert health["retrying"] == 1 and health["last_error"]
    # not yet: the channel has failed for less than channel_alert_after_minutes
    assert queue_channel_notices(env.store, env.config, now + timedelta(minutes=10)) == 0
    later = now + timedelta(minutes=45)
    assert queue_channel_notices(env.store, env.config, later) == 1
    assert queue_channel_notices(env.store, env.config, later + timedelta(minutes=5)) == 0   # once per episode
    [notice] = notices_on(env, "desk")
    assert "channel 'hook' is failing" in notice["title"] and "Last error" in notice["text"]
    assert notices_on(env, "hook") == []                              # never to the failing channel itself
    asyncio.run(run_digests(env.store, env.config, now=later))
    assert notices_on(env, "desk")[0]["status"] == "sent"
    sent = [json.loads(p.read_text()) for p in (tmp_path / "digests").rglob("*.json")]
    assert any("channel 'hook' is failing" in json.dumps(d) for d in sent)


def test_a_delivery_given_up_is_reported_even_without_waiting(delivery_env):
    env = delivery_env(CHANNELS.format(port=free_port()), "  channel_alert_after_minutes: 600\n")
    env.add("Kallas in Tallinn", priority="high", channels=("hook",))
    asyncio.run(run_digests(env.store, env.config))
    [d] = env.store.rows("SELECT id FROM deliveries WHERE channel = 'hook'")
    env.store.mark_delivery_failed(d["id"], "HTTP 410 from the receiver", None)
    assert queue_channel_notices(env.store, env.config, now_utc()) == 1
    [notice] = notices_on(env, "desk")
    assert "gave up a delivery" in notice["text"] and "HTTP 410" in notice["text"]
