"""web.py: /healthz follows the heartbeat; /metrics reads the store."""

import urllib.error
import urllib.request

import pytest

from monitor.store.sqlite import Store
from monitor.web import ops as web


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(tmp_path):
    db = tmp_path / "m.db"
    Store(db).close()
    server = web.serve("127.0.0.1:0", db, max_silence_seconds=300)
    yield server.server_port, db
    server.shutdown()


def test_unhealthy_until_a_cycle_finished_then_healthy(served):
    port, db = served
    status, body = get(port, "/healthz")
    assert status == 503 and "no poll cycle" in body
    Store(db).set_meta("heartbeat", {"pid": 1})
    assert get(port, "/healthz") == (200, "ok\n")


def test_metrics_and_unknown_paths(served):
    port, _ = served
    status, body = get(port, "/metrics")
    assert status == 200 and "monitor_outbox_pending 0.0" in body and "monitor_db_bytes" in body
    assert get(port, "/nope")[0] == 404
