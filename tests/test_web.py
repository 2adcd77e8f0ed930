"""The web server the daemon runs: uvicorn with timeouts, /healthz and /metrics, refusal to serve unprotected.

Real servers on 127.0.0.1 port 0; the clients are plain sockets and urllib.
"""

import socket
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.http import HttpSettings
from monitor.errors import ConfigError
from monitor.web import server as web
from monitor.web.security import guard_for
from tests.conftest import free_port
from tests.webenv import WebEnv


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(tmp_path):
    env = WebEnv(tmp_path)
    server = web.start(env.config, listen="127.0.0.1:0", index=False)
    yield server.port, env
    server.stop()


@pytest.fixture
def served_both(tmp_path, state_target):
    """The server on each backend (SQLite file, PostgreSQL schema), as `monitor run` starts it."""
    env = WebEnv(tmp_path, state=state_target.yaml())
    server = web.start(env.config, listen="127.0.0.1:0", index=True)
    yield server.port, env
    server.stop()
    env.store.close()


def test_unhealthy_until_a_cycle_finished_then_healthy(served_both):
    port, env = served_both
    status, body = get(port, "/healthz")
    assert status == 503 and "no poll cycle" in body
    env.store.set_meta("heartbeat", {"pid": 1})
    assert get(port, "/healthz") == (200, "ok\n")


def test_metrics_and_unknown_paths(served_both):
    port, env = served_both
    env.add("Kaja Kallas in Tallinn", "The EU top diplomat spoke.")
    status, body = get(port, "/metrics")
    assert status == 200 and "monitor_outbox_pending 1.0" in body and "monitor_db_bytes" in body
    assert get(port, "/nope")[0] == 404
    status, page = get(port, "/")
    assert status == 200 and "<mark>Kaja Kallas</mark> in Tallinn" in page
    deadline = time.monotonic() + 20          # the indexer thread reaches the new article
    while "1 result(s)" not in (found := get(port, "/search?q=tallinn")[1]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "1 result(s)" in found


def test_idle_connections_do_not_block_healthz(served):
    """Issue 12: one idle TCP connection made /healthz time out on the single-threaded server."""
    port, env = served
    env.store.set_meta("heartbeat", {"pid": 1})
    idle = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle.append(s)
    half = socket.create_connection(("127.0.0.1", port), timeout=5)
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")     # a request that never finishes
    try:
        started = time.monotonic()
        assert get(port, "/healthz") == (200, "ok\n")
        assert time.monotonic() - started < 2
    finally:
        for s in [*idle, half]:
            s.close()


def test_idle_keepalive_connection_is_closed_by_the_server(served):
    port, _ = served
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not got.endswith(b"yet\n"):
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 503")
        started = time.monotonic()
        assert s.recv(4096) == b""          # closed after the keep-alive timeout, not held forever
        assert time.monotonic() - started < web.KEEP_ALIVE_SECONDS + 5
    finally:
        s.close()


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.0.2.10:80", "[::]:8080"])
def test_non_loopback_without_a_secret_refuses(listen):
    with pytest.raises(ConfigError, match="refusing to start"):
        guard_for(HttpSettings(listen=listen, token_env="MONITOR_WEB_TOKEN"), environ={})
    with pytest.raises(ConfigError, match="refusing to start"):
        guard_for(HttpSettings(listen=listen), environ={"MONITOR_WEB_TOKEN": "x" * 20})
    assert guard_for(HttpSettings(listen=listen, token_env="T"), environ={"T": "s3cret-token"}).required


def test_loopback_needs_no_secret_but_uses_one_when_given():
    assert not guard_for(HttpSettings(listen="127.0.0.1:0"), environ={}).required
    assert not guard_for(HttpSettings(listen="localhost:0"), environ={}).required
    assert guard_for(HttpSettings(listen="127.0.0.1:0", token_env="T"), environ={"T": "abc"}).required


def test_monitor_run_refuses_a_public_listen_without_credentials(tmp_path, monkeypatch):
    env = WebEnv(tmp_path, http=f"listen: '0.0.0.0:{free_port()}', token_env: MONITOR_TEST_WEB_TOKEN")
    monkeypatch.delenv("MONITOR_TEST_WEB_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(env.config.path), "run"])
    assert result.exit_code == 2, result.output
    assert "not a loopback address" in result.output and "$MONITOR_TEST_WEB_TOKEN" in result.output


def test_a_public_listen_with_a_token_serves_only_with_it(tmp_path):
    env = WebEnv(tmp_path, http="token_env: MONITOR_TEST_WEB_TOKEN, open_health: true")
    env.store.set_meta("heartbeat", {"pid": 1})
    server = web.start(env.config, listen="127.0.0.1:0", environ={"MONITOR_TEST_WEB_TOKEN": "tok-123456"},
                       index=False)
    try:
        status, body = get(server.port, "/rules")           # redirected to the login page
        assert status == 200 and "Log in" in body and "Kaja Kallas" not in body
        assert get(server.port, "/rules/kallas.atom")[0] == 401
        status, body = get(server.port, "/rules/kallas.atom", {"Authorization": "Bearer tok-123456"})
        assert status == 200 and "<feed" in body
        assert get(server.port, "/healthz")[0] == 200           # open_health: for load balancers
        assert get(server.port, "/metrics")[0] == 200
    finally:
        server.stop()


def test_config_rejects_bad_http_values(tmp_path):
    with pytest.raises(ConfigError) as exc:
        WebEnv(tmp_path, http="listen: 'nonsense', page_size: 2, token_env: 'not a name', bogus: 1")
    text = "\n".join(exc.value.messages)
    assert "monitor.yaml:" in text
    for needle in ("http.listen 'nonsense' must be HOST:PORT", "page_size must be at least 5",
                   "token_env names an environment", "unknown key 'bogus' in http"):
        assert needle in text, text
