"""`monitor run` as a real process: polls, survives unreachable feeds, stops cleanly on SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.farm import Farm
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]


def monitor(*args: str, cfg: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: Path, feeds: list[str], http_port: int = 0) -> Path:
    return farm_config(tmp, feeds, rules=REPO / "rules", fetch="check_interval_seconds: 2, timeout_seconds: 5",
                       extra=f'http: {{listen: "127.0.0.1:{http_port or free_port()}"}}')


def test_daemon_runs_reports_unreachable_feeds_and_stops_on_sigterm(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"   # nothing listens there
    with Farm("--feeds", "4", "--items", "3") as farm:
        port = free_port()
        cfg = write_config(tmp_path, farm.feed_urls() + [dead], port)
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # the scheduler polls feeds one by one: wait for what is asserted, not for the first
            # finished poll (a feed whose fetch ran long under load finishes in a later one)
            report = wait_for(cfg, lambda r: bool(r["last_poll"]) and r["counts"]["articles"] == 12
                              and any(f["url"] == dead and f["error_count"] for f in r["feeds"]), proc=proc)
            assert proc.poll() is None, "the daemon must keep running with an unreachable feed"
            assert report["counts"]["articles"] == 12
            failing = [f for f in report["feeds"] if f["error_count"]]
            assert [f["url"] for f in failing] == [dead]
            assert "FetchError" in failing[0]["last_error"] or "connect" in failing[0]["last_error"].lower()
            health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert health.status == 200
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            assert "monitor_articles 12.0" in metrics
            assert "monitor_feeds_failing 1.0" in metrics
            text = monitor("status", cfg=cfg).stdout
            assert dead in text and "1 failing" in text
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert "stopped cleanly" in err
        assert "poll: 5 feeds (4 ok" in err


def test_commands_have_help():
    out = monitor("--help", cfg=REPO / "config" / "monitor.yaml")
    assert out.returncode == 0
    commands = [line.split()[0] for line in out.stdout.split("Commands:")[1].strip().splitlines()]
    for name in commands:
        sub = monitor(name, "--help", cfg=REPO / "config" / "monitor.yaml")
        assert sub.returncode == 0 and "Usage:" in sub.stdout, name


def wait_for(cfg: Path, predicate, seconds: float = 90, proc: subprocess.Popen | None = None) -> dict:
    """Poll `status --json` until `predicate(report)` holds; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    report: dict = {}
    while time.monotonic() < deadline:
        assert proc is None or proc.poll() is None, "the daemon exited while waiting"
        out = monitor("status", "--json", cfg=cfg)
        if out.returncode == 0:
            report = json.loads(out.stdout)
            if predicate(report):
                return report
        time.sleep(1)
    raise AssertionError(f"condition not reached; last status: {json.dumps(report)[:1500]}")


def test_daemon_picks_up_feeds_added_to_the_config_while_running(tmp_path):
    with Farm("--feeds", "3", "--items", "2") as farm:
        urls = farm.feed_urls()
        cfg = write_config(tmp_path, urls[:2])
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(cfg, lambda r: r["counts"]["articles"] == 4)
            added = monitor("feeds", "add", urls[2], "--name", "Third", cfg=cfg)
            assert added.returncode == 0, added.stderr
            report = wait_for(cfg, lambda r: r["counts"]["articles"] == 6)
            assert {f["url"] for f in report["feeds"]} == set(urls)
            broken = cfg.read_text().replace("channels:", "channelz:")
            cfg.write_text(broken)                      # an invalid edit is refused, the daemon goes on
            time.sleep(12)
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert "config reloaded: 3 feeds" in err
        assert "unknown key 'channelz'" in err and "keeping the running config" in err
