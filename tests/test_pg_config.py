"""Choosing the PostgreSQL backend: `state.url` / `url_env` / `password_env` validated with
FILE:LINE:COL, the dialect layer's rewrites, and the commands' refusals and messages on a
PostgreSQL state (unreachable server, SQLite-only commands, the web interface)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import settings as config_mod
from monitor.config.crossref import missing_env
from monitor.errors import ConfigError, StateError
from monitor.store.dialect import POSTGRES, SQLITE, DialectError, to_postgres
from monitor.store.open import existing_store, open_store, state_exists, state_label
from monitor.store.pg_base import masked
from monitor.store.sqlite import StateUnavailable

REPO = Path(__file__).resolve().parents[1]


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_mod.parse(text, "c.yaml")
    return info.value.messages


def test_state_url_selects_postgres_and_path_stays_sqlite():
    cfg = config_mod.parse("state:\n  url: postgresql://mon@db:5432/mon\n  pool_size: 8\n", "c.yaml")
    assert cfg.postgres is not None and cfg.postgres.url == "postgresql://mon@db:5432/mon"
    assert cfg.postgres.pool_size == 8 and cfg.postgres.where.startswith("c.yaml:2:")
    assert config_mod.parse("state:\n  path: m.db\n", "c.yaml").postgres is None
    assert config_mod.parse("", "c.yaml").postgres is None


@pytest.mark.parametrize("text, message", [
    ("state:\n  path: m.db\n  url: postgresql://h/d\n", "c.yaml:3:8: state: give one of path (SQLite), url or url_env"),
    ("state:\n  url: mysql://h/d\n", "c.yaml:2:8: state.url must be a PostgreSQL URL"),
    ("state:\n  url_env: not a name\n", "c.yaml:2:12: state.url_env names an environment variable"),
    ("state:\n  path: m.db\n  password_env: PW\n", "c.yaml:3:17: state.password_env is for PostgreSQL"),
    ("state:\n  url: postgresql://h/d\n  pool_size: 0\n", "c.yaml:3:14: state.pool_size must be between 1 and 100"),
    ("state:\n  uri: postgresql://h/d\n", "c.yaml:2:3: unknown key 'uri' in state (did you mean 'url'?)"),
])
def test_state_section_errors_name_the_place(text, message):
    messages = errors_of(text)
    assert any(m.startswith(message) for m in messages), messages


def test_secrets_come_from_the_environment(monkeypatch):
    cfg = config_mod.parse("state:\n  url_env: MON_DB_URL\n  password_env: MON_DB_PW\n", "c.yaml")
    monkeypatch.delenv("MON_DB_URL", raising=False)
    monkeypatch.delenv("MON_DB_PW", raising=False)
    assert len(missing_env(cfg)) == 2 and "MON_DB_URL" in missing_env(cfg)[0]
    with pytest.raises(StateError, match="MON_DB_URL, which is not set"):
        cfg.postgres.resolve()
    monkeypatch.setenv("MON_DB_URL", "postgresql://mon@db/mon")
    monkeypatch.setenv("MON_DB_PW", "s3cret")
    assert cfg.postgres.resolve() == ("postgresql://mon@db/mon", "s3cret") and missing_env(cfg) == []
    assert state_label(cfg) == "$MON_DB_URL"


def test_commits_are_relaxed_like_sqlites_wal_unless_asked(pg_url):
    from monitor.store.postgres import PgStore
    cfg = config_mod.parse("state:\n  url: postgresql://h/d\n  synchronous_commit: true\n", "c.yaml")
    assert cfg.postgres.synchronous_commit is True
    assert config_mod.parse("state:\n  url: postgresql://h/d\n", "c.yaml").postgres.synchronous_commit is False
    for durable, shown in ((False, "off"), (True, "on")):
        store = PgStore(pg_url, synchronous_commit=durable)
        with store.transaction():        # a pooled connection, as every unit of work gets
            assert store.db.execute("SHOW synchronous_commit").fetchone()[0] == shown
        store.close()


def test_passwords_never_reach_messages():
    assert masked("postgresql://mon:s3cret@db:5432/mon") == "postgresql://mon:***@db:5432/mon"
    assert masked("postgresql://db/mon?password=s3cret&sslmode=require") == \
        "postgresql://db/mon?password=***&sslmode=require"


def test_shared_sql_is_rewritten_for_postgres_and_sqlite_only_forms_are_refused():
    assert to_postgres("SELECT * FROM t WHERE a = ? AND b LIKE '%?x' AND c = ?") == \
        "SELECT * FROM t WHERE a = %s AND b LIKE '%%?x' AND c = %s"
    assert to_postgres("INSERT OR IGNORE INTO m VALUES (?, ?)") == "INSERT INTO m VALUES (%s, %s) ON CONFLICT DO NOTHING"
    assert to_postgres("INSERT OR IGNORE INTO a (u) VALUES (?) RETURNING id") == \
        "INSERT INTO a (u) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"
    # a quoted literal before RETURNING: ON CONFLICT still goes right before it (it went in the literal's
    # length too early)
    assert to_postgres("INSERT OR IGNORE INTO a (u, v) SELECT ?, 'first here' WHERE x = 'yes' RETURNING id") == \
        "INSERT INTO a (u, v) SELECT %s, 'first here' WHERE x = 'yes' ON CONFLICT DO NOTHING RETURNING id"
    assert to_postgres("SELECT 'it''s ? here' FROM t WHERE x = ?") == "SELECT 'it''s ? here' FROM t WHERE x = %s"
    for bad in ("PRAGMA table_info(x)", "SELECT changes()", "DELETE FROM t WHERE rowid IN (1)",
                "UPDATE OR IGNORE t SET a = 1", "SELECT json_extract(s, '$.a') FROM t", "SELECT instr(a, 'b')"):
        with pytest.raises(DialectError):
            to_postgres(bad)
    assert to_postgres("SELECT 'PRAGMA rowid' FROM t") == "SELECT 'PRAGMA rowid' FROM t"   # inside a literal
    assert POSTGRES == "postgresql" and SQLITE == "sqlite" and POSTGRES.for_update == " FOR UPDATE"
    assert SQLITE.json_number("s", "feeds") == "json_extract(s, '$.feeds')"
    with pytest.raises(ValueError):
        POSTGRES.json_number("s", "x'); DROP TABLE feeds; --")


def test_an_unreachable_server_is_a_clear_error_naming_the_masked_url(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("state:\n  url: postgresql://mon:s3cret@127.0.0.1:1/mon\n")
    cfg = config_mod.load(cfg_file)
    with pytest.raises(StateError) as info:
        open_store(cfg)
    assert "postgresql://mon:***@127.0.0.1:1/mon" in str(info.value) and "s3cret" not in str(info.value)
    assert "is PostgreSQL running" in str(info.value)
    for args in (["migrate"], ["status"], ["feeds", "list"]):
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg_file), *args],
                             capture_output=True, text=True, cwd=REPO, timeout=60)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "127.0.0.1:1" in out.stderr and "s3cret" not in out.stderr + out.stdout
        assert "Traceback" not in out.stderr


def test_commands_on_a_postgres_state(tmp_path, pg_url):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"state:\n  url: '{pg_url}'\nfeeds:\n  - url: https://news.example/feed.xml\n")
    cfg = config_mod.load(cfg_file)
    assert not state_exists(cfg)
    with pytest.raises(StateUnavailable, match="no monitor schema"):
        existing_store(cfg)

    def monitor(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg_file), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
    first, again = monitor("migrate"), monitor("migrate")
    assert first.returncode == 0 and "created schema version" in first.stdout, first.stderr
    assert again.returncode == 0 and "already at schema version" in again.stdout
    assert state_exists(cfg)
    paused = monitor("feeds", "pause", "https://news.example/feed.xml")
    assert paused.returncode == 0, paused.stderr
    listed = monitor("feeds", "list", "--json")
    assert '"state": "paused"' in listed.stdout, listed.stdout
    listed = monitor("matches", "--since", "30d")         # the web interface's queries, on PostgreSQL
    assert listed.returncode == 0 and "0 stories" in listed.stderr, listed.stderr
    for args, what in ((["backup", str(tmp_path / "b.db")], "pg_dump"),
                       (["restore", str(tmp_path / "b.db")], "pg_dump")):
        out = monitor(*args)
        assert out.returncode == 2 and what in out.stderr, (args, out.stderr)
    status = monitor("status")
    assert status.returncode == 0 and "postgresql://" in status.stdout, status.stdout + status.stderr
