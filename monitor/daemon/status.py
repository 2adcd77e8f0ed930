"""What `monitor status` reports: a read-only health picture built from the store and rules.

Owns collecting and formatting the report. Must not change state (it opens the store
only to read, and validates the rule files without swapping anything in).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.config.settings import Config
from monitor.errors import RuleError
from monitor.store.sqlite import Store, db_bytes, now_utc, parse_iso


def _rules_on_disk(cfg: Config) -> dict[str, Any]:
    from monitor.match import load_rules
    try:
        rs = load_rules(cfg.rules_path, cfg.rules_max_alias_values)
    except RuleError as exc:
        return {"valid": False, "rules": 0, "errors": exc.messages}
    except Exception as exc:  # status must report, never crash
        return {"valid": False, "rules": 0, "errors": [f"{cfg.rules_path}: {exc}"]}
    return {"valid": True, "rules": len(rs.rules), "errors": []}


def collect(cfg: Config) -> dict[str, Any]:
    store = Store(cfg.state_path)
    try:
        feeds = store.feeds()
        now = now_utc()
        alert_after = cfg.fetch.feed_alert_after_hours * 3600
        for f in feeds:
            since = parse_iso(f["failing_since"])
            f["alert"] = bool(since and (now - since).total_seconds() > alert_after)
        last = store.last_cycle("poll")
        daemon_rules = store.get_meta("rules")
        heartbeat = store.get_meta("heartbeat")
        failed_deliveries = store.rows(
            "SELECT id, channel, attempts, last_error, created FROM deliveries WHERE status = 'failed' "
            "ORDER BY created DESC LIMIT 20")
        return {
            "config": str(cfg.path), "state": str(cfg.state_path), "db_bytes": db_bytes(cfg.state_path),
            "counts": store.counts(),
            "feeds": feeds,
            "last_poll": {"finished": last["finished"], **json.loads(last["summary"])} if last else None,
            "heartbeat": heartbeat[0] if heartbeat else None,
            "rules_on_disk": _rules_on_disk(cfg),
            "rules_in_daemon": daemon_rules[0] if daemon_rules else None,
            "failed_deliveries": failed_deliveries,
        }
    finally:
        store.close()


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str)


def _age(ts: str | None) -> str:
    if not ts:
        return "never"
    secs = (now_utc() - datetime.fromisoformat(ts)).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(secs) >= size:
            return f"{secs / size:.0f}{unit} ago" if secs >= 0 else f"in {-secs / size:.0f}{unit}"
    return f"{secs:.0f}s ago" if secs >= 0 else f"in {-secs:.0f}s"


def as_text(r: dict[str, Any]) -> str:
    c = r["counts"]
    lines = [f"state: {r['state']} ({r['db_bytes'] / 1e6:.1f} MB)"]
    lp = r["last_poll"]
    lines.append(f"last poll: {_age(lp['finished'])}: {lp['feeds']} feeds, {lp['ok']} ok, {lp['failed']} failed, "
                 f"{lp['articles']} articles, {lp['matched']} matched" if lp else "last poll: never")
    disk = r["rules_on_disk"]
    lines.append(f"rules: {disk['rules']} valid on disk" if disk["valid"]
                 else f"rules: INVALID on disk ({len(disk['errors'])} errors); the daemon keeps the last valid set")
    lines += [f"  {e}" for e in disk["errors"]]
    lines.append(f"articles: {c['articles']}, matches: {c['matches']}, outbox pending: {c['outbox_pending']}, "
                 f"deliveries pending: {c['deliveries_pending']}, failed: {c['deliveries_failed']}")
    for d in r["failed_deliveries"]:
        lines.append(f"  delivery {d['id'][:8]} to {d['channel']} FAILED after {d['attempts']} attempts: "
                     f"{d['last_error']}")
    healthy = sum(1 for f in r["feeds"] if f["state"] == "active" and not f["error_count"])
    lines.append(f"feeds: {len(r['feeds'])} ({healthy} healthy, {c['feeds_failing']} failing)")
    for f in r["feeds"]:
        if f["error_count"] or f["state"] != "active":
            flag = " ALERT" if f["alert"] else ""
            lines.append(f"  [{f['state']}{flag}] {f['url']}: {f['error_count']} failures, last error "
                         f"{f['last_error']!r}, last success {_age(f['last_success'])}, "
                         f"next attempt {_age(f['next_poll'])}")
    return "\n".join(lines)
