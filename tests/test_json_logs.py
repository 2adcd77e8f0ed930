"""`logging.format: json` lines carry fields (feed, error, delivery id, counts), not only a message."""

from __future__ import annotations

import asyncio
import json
import logging

from monitor import logs
from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon import run as daemon
from monitor.deliver.delivery import run_digests
from tests.conftest import free_port
from tests.localsite import Site


def test_json_lines_have_the_fields_of_the_event(tmp_path, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup("json", "INFO")
    try:
        with Site() as site:
            cfg = config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
rules: {{path: {tmp_path}}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false}}
channels: [{{name: hook, type: webhook, url: 'http://127.0.0.1:{free_port()}/x', timeout_seconds: 2}}]
feeds: [{{url: "{site.base}/missing.xml"}}]
""", "c.yaml", tmp_path)

            async def go():
                async with daemon.open_deps(cfg, use_pool=False) as deps:
                    await pipeline.poll_cycle(deps, every_feed=True)
                    did = deps.store.create_delivery("hook", [])
                    await run_digests(deps.store, cfg, force=True)
                    return did
            delivery_id = asyncio.run(go())
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(ln) for ln in capsys.readouterr().err.splitlines() if ln.startswith("{")]
    failed = next(d for d in lines if d.get("event") == "feed_failed")
    assert failed["feed"] == f"{site.base}/missing.xml" and failed["error"] == "HTTP 404"
    assert failed["failures"] == 1 and failed["status"] == 404 and failed["level"] == "warning"
    assert "feed failed" in failed["message"]
    delivery = next(d for d in lines if d.get("event") == "delivery_failed")
    assert delivery["delivery_id"] == delivery_id and delivery["channel"] == "hook" and delivery["attempts"] == 1
