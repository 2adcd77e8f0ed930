"""The optional operations endpoint: `/healthz` and Prometheus `/metrics` (config `http.listen`).

Owns the HTTP surface for operators, bound to 127.0.0.1 by default. Metrics are read
from the store at scrape time through a separate connection, so the endpoint never
shares the daemon's connection or blocks its event loop. Must not change state.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

from monitor.store.sqlite import Store, db_bytes, now_utc


class StoreCollector:
    """Gauges computed from the state database on each scrape."""

    def __init__(self, state_path: Path):
        self.state_path = state_path

    def collect(self):
        store = Store(self.state_path)
        try:
            counts = store.counts()
            states = store.rows("SELECT state, count(*) AS n FROM feeds GROUP BY state")
            last = store.last_cycle("poll")
        finally:
            store.close()
        feeds = GaugeMetricFamily("monitor_feeds", "Feeds by state", labels=["state"])
        for row in states:
            feeds.add_metric([row["state"]], row["n"])
        yield feeds
        for key, help_ in (("feeds_failing", "Active feeds whose last poll failed"),
                           ("feeds_slow", "Active feeds whose last poll was cut off at its deadline"),
                           ("articles_unmatched", "Articles stored unmatched: matching ran past its limit"),
                           ("articles", "Articles stored"), ("matches", "Rule matches stored"),
                           ("outbox_pending", "Matched items waiting for delivery"),
                           ("deliveries_pending", "Deliveries waiting for (re)try"),
                           ("deliveries_failed", "Deliveries given up after retries")):
            yield GaugeMetricFamily(f"monitor_{key}", help_, value=counts[key])
        if last:
            finished = datetime.fromisoformat(last["finished"]).timestamp()
            summary = json.loads(last["summary"])
            yield GaugeMetricFamily("monitor_last_poll_timestamp_seconds", "End of the last poll cycle",
                                    value=finished)
            yield GaugeMetricFamily("monitor_last_poll_duration_seconds", "Duration of the last poll cycle",
                                    value=summary.get("seconds", 0))
        yield GaugeMetricFamily("monitor_db_bytes", "Size of the state database", value=db_bytes(self.state_path))


def healthy(state_path: Path, max_silence_seconds: float) -> tuple[bool, str]:
    """Healthy when the daemon's heartbeat (written after each poll cycle) is recent."""
    store = Store(state_path)
    try:
        beat = store.get_meta("heartbeat")
    finally:
        store.close()
    if beat is None:
        return False, "no poll cycle has finished yet"
    age = (now_utc() - datetime.fromisoformat(beat[1])).total_seconds()
    if age > max_silence_seconds:
        return False, f"last poll cycle finished {age:.0f}s ago"
    return True, "ok"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def make_app(state_path: Path, max_silence_seconds: float):
    registry = CollectorRegistry()
    registry.register(StoreCollector(state_path))
    metrics = make_wsgi_app(registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            ok, why = healthy(state_path, max_silence_seconds)
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [why.encode() + b"\n"]
        if environ.get("PATH_INFO") == "/metrics":
            return metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /healthz or /metrics\n"]
    return app


def serve(listen: str, state_path: Path, max_silence_seconds: float) -> WSGIServer:
    """Start serving in a daemon thread; call `.shutdown()` to stop."""
    host, _, port = listen.rpartition(":")
    server = make_server(host or "127.0.0.1", int(port), make_app(state_path, max_silence_seconds),
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="monitor-http", daemon=True).start()
    return server
