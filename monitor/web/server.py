"""Serving the web interface from the daemon: uvicorn in its own thread, with timeouts.

Owns the listening socket (bound before the thread starts, so a busy port or a refused
configuration fails `monitor run` at once), the uvicorn server (asyncio, so one idle or
slow connection never holds another: keep-alive and shutdown timeouts, a cap on
concurrent connections) and stopping it. The web interface has its own event loop in
that thread: a busy daemon loop never delays a page or /healthz. Must not hold routes.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from monitor.config.http import split_listen
from monitor.config.settings import Config
from monitor.errors import ConfigError
from monitor.web.security import guard_for

log = logging.getLogger("monitor.web")

KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 200


class WebServer:
    """A running web interface; `.port` is the bound port, `.stop()` ends it."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, thread: threading.Thread, indexer: Any):
        self.server, self.sock, self.thread, self.indexer = server, sock, thread, indexer
        self.port: int = sock.getsockname()[1]

    def stop(self, timeout: float = 10.0) -> None:
        from monitor.web.db import close_pools
        self.indexer.stop()
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        close_pools()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"http.listen {host}:{port}: cannot listen: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def start(config: Config, listen: str | None = None, environ: dict[str, str] | None = None,
          wake: Callable[[], object] | None = None, index: bool = True) -> WebServer:
    """Start the web interface on `http.listen` (or `listen`); ConfigError when it must not or cannot.

    `wake` (thread-safe) asks the daemon to run its digest job now ("retry now");
    `index` keeps the search index caught up from a background thread.
    """
    from dataclasses import replace

    from monitor.web.app import make_app

    http = config.http if listen is None else replace(config.http, listen=listen)
    if not http.listen:
        raise ConfigError("http.listen is not set")
    guard = guard_for(http, environ)
    host, port = split_listen(http.listen)
    sock = _bind(host, port)
    app = make_app(config, guard)
    app.state.wake = wake
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS, timeout_graceful_shutdown=3, server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="monitor-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise ConfigError(f"http.listen {http.listen}: the web server did not start")
    web = WebServer(server, sock, thread, app.state.indexer)
    if index:
        web.indexer.start()
    return web
