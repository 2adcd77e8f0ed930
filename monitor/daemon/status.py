"""What `monitor status` reports: a read-only health picture built from the store, the lock and rules.

Owns collecting the report (also for a config that is invalid on disk, while the daemon
keeps running on its last valid one), the health verdict of `status --check`, and
formatting. Must not change state: it opens an existing database only (never creating or
migrating one), inspects the daemon's lock without taking it, and validates the rule
files without swapping anything in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.config import yamlsrc
from monitor.config.settings import Config
from monitor.daemon import lock
from monitor.errors import RuleError
from monitor.store.leases import workers_report
from monitor.store.open import existing_store, state_label
from monitor.store.sqlite import StateUnavailable, Store, now_utc, parse_iso

EMPTY_COUNTS = {"feeds": 0, "feeds_failing": 0, "articles": 0, "matches": 0, "outbox_pending": 0,
                "deliveries_pending": 0, "deliveries_failed": 0}


@dataclass
class Sources:
    """What the report is built from: the valid config, or what could be read of an invalid one."""

    config_path: Path
    state_path: Path
    rules_path: Path
    config: Config | None = None
    config_errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, cfg: Config) -> Sources:
        return cls(cfg.path, cfg.state_path, cfg.rules_path, cfg)


def _rules_on_disk(rules_path: Path, max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> dict[str, Any]:
    from monitor.match import check_rules  # valid or not: compiling adds nothing but time
    try:
        rs = check_rules(rules_path, max_alias_values=max_alias_values)
    except RuleError as exc:
        return {"valid": False, "rules": 0, "errors": exc.messages}
    except Exception as exc:  # status must report, never crash
        return {"valid": False, "rules": 0, "errors": [f"{rules_path}: {exc}"]}
    return {"valid": True, "rules": len(rs.rules), "errors": []}


def _newest_rule_file(rules_path: Path) -> float:
    try:
        files = [rules_path] if rules_path.is_file() else [*rules_path.rglob("*.yaml"), *rules_path.rglob("*.yml")]
        return max((f.stat().st_mtime for f in files), default=0.0)
    except OSError:
        return float("inf")


def _rules_as_the_daemon_saw_them(report: dict[str, Any], rules_path: Path, meta: tuple[Any, str] | None
                                  ) -> dict[str, Any] | None:
    """The running daemon's verdict on the rule files, when none changed since it gave it.

    Compiling a big rule set takes this command as long as it takes the daemon (a minute for
    20,000 rules on a busy machine); the daemon has already done it and recorded the outcome.
    """
    if not report["daemon"]["running"] or meta is None:
        return None
    state, updated = meta
    try:
        stamp = datetime.fromisoformat(updated).timestamp()
    except (TypeError, ValueError):
        return None
    if _newest_rule_file(rules_path) >= stamp:
        return None
    errors = list(state.get("errors") or [])
    return {"valid": not errors, "rules": 0 if errors else int(state.get("loaded") or 0), "errors": errors,
            "checked_by": "daemon"}


def max_silence_seconds(cfg: Config | None) -> float:
    """How old the daemon's heartbeat may be before it counts as stuck (as /healthz decides)."""
    return max(300.0, 5.0 * (cfg.fetch.check_interval_seconds if cfg else 60))


def collect(cfg: Config | Sources) -> dict[str, Any]:
    """The report; with no database (or one of another schema) it says so and reports the rest."""
    src = cfg if isinstance(cfg, Sources) else Sources.of(cfg)
    conf = src.config
    pg = conf is not None and conf.postgres is not None
    pid = None if pg else lock.holder(src.state_path)      # PostgreSQL: workers are many, no lock file
    report: dict[str, Any] = {
        "config": str(src.config_path), "config_valid": conf is not None, "config_errors": src.config_errors,
        "state": state_label(conf) if conf is not None else str(src.state_path), "database": None,
        "backend": "postgresql" if pg else "sqlite", "db_bytes": 0, "counts": dict(EMPTY_COUNTS),
        "feeds": [], "feeds_configured": len(conf.feeds) if conf else None, "last_poll": None,
        "last_check": None, "heartbeat": None, "daemon": {"running": pid is not None, "pid": pid},
        "rules_on_disk": None, "rules_in_daemon": None,
        "channels": [], "failed_deliveries": [], "feed_moves_not_in_config": [], "workers": [],
    }
    def disk() -> dict[str, Any]:
        return _rules_on_disk(src.rules_path, src.config.rules_max_alias_values if src.config is not None
                              else yamlsrc.DEFAULT_MAX_ALIAS_VALUES)
    try:
        store = existing_store(conf) if conf is not None else Store.existing(src.state_path)
    except StateUnavailable as exc:
        report["rules_on_disk"] = disk()
        report["database"] = str(exc)
        report["feeds"] = [_new_feed(f.url, f.name) for f in conf.feeds] if conf else []
        report["channels"] = [_channel(name, {}) for name in (c.name for c in conf.channels)] if conf else []
        return report
    try:
        _from_store(report, store, conf)
        report["db_bytes"] = store.size_bytes()
        if pg:      # no lock file names a pid: the daemon runs when a worker's heartbeat is alive
            alive = [w for w in report["workers"] if w.get("alive")]
            report["daemon"] = {"running": bool(alive), "pid": None, "workers_alive": len(alive)}
        report["rules_on_disk"] = _rules_as_the_daemon_saw_them(report, src.rules_path, store.get_meta("rules"))
    finally:
        store.close()
    report["rules_on_disk"] = report["rules_on_disk"] or disk()
    beat = report["heartbeat"]
    if beat:
        beat["age_seconds"] = round((now_utc() - datetime.fromisoformat(beat["at"])).total_seconds(), 1)
    return report


def _from_store(report: dict[str, Any], store: Store, conf: Config | None) -> None:
    feeds = store.feeds()
    now = now_utc()
    alert_after = (conf.fetch.feed_alert_after_hours if conf else 24.0) * 3600
    for f in feeds:
        since = parse_iso(f["failing_since"])
        f["alert"] = bool(since and (now - since).total_seconds() > alert_after)
    if conf:     # the configured feeds are the truth; a feed never polled yet shows as new
        known = {f["url"] for f in feeds} | {f["moved_from"] for f in feeds if f.get("moved_from")}
        feeds += [_new_feed(f.url, f.name) for f in conf.feeds if f.enabled and f.url not in known]
    busy, last = store.last_busy_cycle("poll"), store.last_cycle("poll")
    rules, beat = store.get_meta("rules"), store.get_meta("heartbeat")
    moved = store.get_meta("feed_moves_not_in_config")
    health = store.channel_health()
    names = [c.name for c in conf.channels] if conf else sorted(health)
    report.update(
        counts=store.counts(), feeds=feeds,
        last_poll={"finished": busy["finished"], **json.loads(busy["summary"])} if busy else None,
        last_check=last["finished"] if last else None,
        heartbeat=beat[0] if beat else None, rules_in_daemon=rules[0] if rules else None,
        feed_moves_not_in_config=moved[0] if moved else [],
        channels=[_channel(n, health.get(n, {})) for n in names],
        workers=workers_report(store, conf.workers.lease_seconds if conf else 60.0),
        failed_deliveries=store.rows(
            "SELECT id, channel, attempts, last_error, created FROM deliveries WHERE status = 'failed' "
            "ORDER BY created DESC LIMIT 20"))


def _new_feed(url: str, name: str) -> dict[str, Any]:
    return {"url": url, "name": name, "state": "new", "error_count": 0, "last_error": None,
            "last_success": None, "next_poll": None, "alert": False}


def _channel(name: str, h: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "outbox_pending": h.get("outbox_pending", 0), "retrying": h.get("retrying") or 0,
            "retrying_since": h.get("retrying_since"), "next_attempt": h.get("next_attempt"),
            "last_error": h.get("last_error"), "failed": h.get("failed") or 0, "last_sent": h.get("last_sent"),
            "last_outcome": h.get("last_outcome")}


def problems(report: dict[str, Any], *, max_silence: float, channel_grace_minutes: float = 30.0,
             max_failing_feeds: float = 50.0) -> list[str]:
    """Why the service is unhealthy (empty when healthy): daemon down or stuck, a channel failing,
    too many feeds failing. The verdict of `monitor status --check` and the container health check."""
    out = []
    daemon = report["daemon"]
    if not daemon["running"]:
        out.append(f"no daemon is running on {report['state']}")
    beat = report["heartbeat"]
    if daemon["running"] and beat and beat.get("age_seconds", 0) > max_silence:
        who = f"pid {daemon['pid']}" if daemon["pid"] else "its workers"
        out.append(f"the daemon ({who}) has not finished a poll cycle for "
                   f"{beat['age_seconds']:.0f}s (more than {max_silence:.0f}s)")
    now = now_utc()
    for ch in report["channels"]:
        since = parse_iso(ch["retrying_since"])
        if since and (now - since).total_seconds() > channel_grace_minutes * 60:
            out.append(f"channel {ch['name']!r} has been failing since {ch['retrying_since']}: {ch['last_error']}")
        elif ch["last_outcome"] == "failed":
            out.append(f"channel {ch['name']!r} gave up its last delivery: {ch['last_error']}")
    active = [f for f in report["feeds"] if f["state"] in ("active", "new")]
    failing = [f for f in active if f["error_count"]]
    if active and 100.0 * len(failing) / len(active) > max_failing_feeds:
        out.append(f"{len(failing)} of {len(active)} feeds are failing (more than {max_failing_feeds:g}%)")
    return out


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


def _daemon_line(r: dict[str, Any]) -> str:
    d, beat = r["daemon"], r["heartbeat"]
    if not d["running"]:
        return "daemon: not running" + (" (no worker's heartbeat is alive)" if "workers_alive" in d else "")
    if "workers_alive" in d:
        return (f"daemon: {d['workers_alive']} worker(s) running on PostgreSQL, heartbeat "
                f"{_age(beat['at']) if beat else 'none yet'}")
    return f"daemon: running (pid {d['pid']}), heartbeat {_age(beat['at']) if beat else 'none yet'}"


def _worker_line(w: dict[str, Any]) -> str:
    state = w["state"] if w["state"] != "running" else ("running" if w["alive"] else
                                                        "SILENT (its leases run out; the others take over)")
    held = (f"{w['feeds_leased']} feeds, {w['hosts_leased']} hosts leased"
            + (f", {', '.join(w['leases'])}" if w["leases"] else ""))
    return (f"worker {w['id']}: {state}, heartbeat {w['heartbeat_age_seconds']:.0f}s ago, "
            f"{w['polls']} polls since start, {held}")


def as_text(r: dict[str, Any]) -> str:
    c = r["counts"]
    lines = [] if r["config_valid"] else [
        f"config: INVALID on disk ({len(r['config_errors'])} errors); a running daemon keeps the last valid one"]
    lines += [f"  {e}" for e in r["config_errors"]]
    lines.append(_daemon_line(r))
    lines.append(f"state: {r['database']}" if r["database"] else f"state: {r['state']} ({r['db_bytes'] / 1e6:.1f} MB)")
    lp = r["last_poll"]
    lines.append(f"last poll: {_age(lp['finished'])}: {lp['feeds']} feeds, {lp['ok']} ok, {lp['failed']} failed, "
                 f"{lp['articles']} articles, {lp['matched']} matched" if lp else "last poll: never")
    disk = r["rules_on_disk"]
    lines.append(f"rules: {disk['rules']} valid on disk" if disk["valid"]
                 else f"rules: INVALID on disk ({len(disk['errors'])} errors); the daemon keeps the last valid set")
    lines += [f"  {e}" for e in disk["errors"]]
    unmatched = f" ({c['articles_unmatched']} stored unmatched: matching ran past its limit)" \
        if c.get("articles_unmatched") else ""
    lines.append(f"articles: {c['articles']}{unmatched}, matches: {c['matches']}, outbox pending: {c['outbox_pending']}, "
                 f"deliveries pending: {c['deliveries_pending']}, failed: {c['deliveries_failed']}")
    for ch in r["channels"]:
        state = (f"RETRYING since {ch['retrying_since']} ({ch['retrying']} deliveries), next attempt "
                 f"{_age(ch['next_attempt'])}, last error {ch['last_error']!r}" if ch["retrying"]
                 else f"FAILED last delivery: {ch['last_error']!r}" if ch["last_outcome"] == "failed" else "ok")
        lines.append(f"channel {ch['name']}: {state}; {ch['outbox_pending']} pending, last sent "
                     f"{_age(ch['last_sent'])}" + (f", {ch['failed']} given up" if ch["failed"] else ""))
    for w in r.get("workers", []):
        lines.append(_worker_line(w))
    for d in r["failed_deliveries"]:
        lines.append(f"  delivery {d['id'][:8]} to {d['channel']} FAILED after {d['attempts']} attempts: "
                     f"{d['last_error']}")
    configured = r["feeds_configured"]
    healthy = sum(1 for f in r["feeds"] if f["state"] == "active" and not f["error_count"])
    new = sum(1 for f in r["feeds"] if f["state"] == "new")
    lines.append(f"feeds: {configured if configured is not None else len(r['feeds'])} configured "
                 f"({healthy} healthy, {c['feeds_failing']} failing" + (f", {new} not polled yet" if new else "") + ")")
    for m in r["feed_moves_not_in_config"]:
        lines.append(f"  [moved] {m['old']} -> {m['new']}: the config still says the old address ({m['reason']})")
    for f in r["feeds"]:
        if f.get("slow") and not f["error_count"]:
            lines.append(f"  [slow] {f['url']}: {f['slow']}")
        if f["error_count"] or f["state"] not in ("active", "new"):
            flag = " ALERT" if f["alert"] else ""
            lines.append(f"  [{f['state']}{flag}] {f['url']}: {f['error_count']} failures, last error "
                         f"{f['last_error']!r}, last success {_age(f['last_success'])}, "
                         f"next attempt {_age(f['next_poll'])}")
    return "\n".join(lines)
