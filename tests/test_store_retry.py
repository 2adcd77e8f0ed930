"""Deadlocks and serialization failures: the unit of work runs again (store/retry.py).

A real deadlock on the PostgreSQL server at 127.0.0.1:5432 (two handles updating two rows
in opposite orders, `deadlock_timeout` lowered for the test's transactions): the server
aborts one of them, which runs again and both units end up committed. Pure tests of the
loop itself (which errors are retried, how often, the async form's undo hook), of the
decorator not retrying inside an outer unit, and of the story cache forgetting a
rolled-back attempt's decisions on both backends.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from monitor.daemon.storyload import OnDemandIndex
from monitor.store import retry
from monitor.store.retry import retried
from monitor.stories.index import StoryIndex

NOW = datetime.now(UTC)


class Conflict(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def test_a_deadlock_on_postgresql_is_retried_and_both_units_commit(pg_url):
    from monitor.store.postgres import PgStore
    setup = PgStore(pg_url)
    setup.db.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    setup.db.execute("INSERT INTO pair VALUES (1, 0), (2, 0)")
    both_hold_one = threading.Barrier(2, timeout=30)
    attempts = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def unit(name: str, first: int, second: int) -> None:
        store = PgStore(pg_url, migrate=False)

        def work() -> None:
            attempts[name] += 1
            with store.transaction():
                store.db.execute("SET LOCAL deadlock_timeout = '50ms'")
                store.db.execute("UPDATE pair SET v = v + 1 WHERE id = ?", [first])
                if attempts[name] == 1:
                    both_hold_one.wait()          # each holds one row and now wants the other's
                store.db.execute("UPDATE pair SET v = v + 10 WHERE id = ?", [second])
        try:
            retry.run(work, what=f"unit {name}")
        except BaseException as exc:   # noqa: BLE001  (reported by the main thread)
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=unit, args=("a", 1, 2)), threading.Thread(target=unit, args=("b", 2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        assert sorted(attempts.values()) == [1, 2]          # the server chose one victim; it ran again
        assert sorted(setup.db.execute("SELECT id, v FROM pair ORDER BY id").fetchall()) == [(1, 11), (2, 11)]
    finally:
        setup.close()


def test_only_deadlocks_and_serialization_failures_are_retried(monkeypatch):
    monkeypatch.setattr(retry, "delay", lambda attempt: 0.0)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Conflict("40P01" if len(calls) == 1 else "40001")
        return "done"
    assert retry.run(flaky) == "done" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise Conflict("23505")                 # a unique violation: running it again cannot help
    calls.clear()
    with pytest.raises(Conflict):
        retry.run(broken)
    assert len(calls) == 1

    def always() -> None:
        calls.append(1)
        raise Conflict("40001")
    calls.clear()
    with pytest.raises(Conflict):
        retry.run(always)
    assert len(calls) == retry.ATTEMPTS


def test_the_async_form_undoes_the_failed_attempt_before_trying_again(monkeypatch):
    monkeypatch.setattr(retry, "delay", lambda attempt: 0.0)
    log: list[str] = []

    async def work() -> int:
        log.append("try")
        if log.count("try") == 1:
            raise Conflict("40P01")
        return 7
    assert asyncio.run(retry.run_async(work, before_retry=lambda: log.append("undo"))) == 7
    assert log == ["try", "undo", "try"]


def test_a_decorated_unit_inside_another_unit_is_not_retried_there(state_target, monkeypatch):
    monkeypatch.setattr(retry, "delay", lambda attempt: 0.0)
    store = state_target.open()
    calls: list[int] = []

    @retried
    def unit(s) -> None:
        calls.append(1)
        with s.transaction():
            raise Conflict("40001")
    try:
        with pytest.raises(Conflict), store.transaction():
            unit(store)                  # the outer unit is aborted as a whole: its caller retries
        assert len(calls) == 1
        with pytest.raises(Conflict):
            unit(store)
        assert len(calls) == 1 + retry.ATTEMPTS
    finally:
        store.close()


def test_a_reset_story_cache_forgets_unsaved_decisions_and_reloads_the_saved(state_target):
    store = state_target.open()
    try:
        def load(ix: StoryIndex) -> int:
            return ix.load(store.story_signatures(since=datetime(2000, 1, 1, tzinfo=UTC)))
        cache = OnDemandIndex(StoryIndex(), load, StoryIndex)
        text = " ".join(f"harbour{j} quay{j}" for j in range(40))
        saved = cache.assign("http://one.example/a", "Quay", text, NOW, NOW)
        with store.transaction():
            store.save_story_signatures([saved], seq_base=0)
        cache.assign("http://two.example/b", "Other", " ".join(f"w{j}" for j in range(80)), NOW, NOW)
        assert len(cache) == 2
        cache.reset()                                  # the second one's save was rolled back
        assert "http://two.example/b" not in cache and "http://one.example/a" in cache and len(cache) == 1
    finally:
        store.close()
