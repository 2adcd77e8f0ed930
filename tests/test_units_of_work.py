"""One job, one connection, one unit of work: Store transactions and the job runner.

The flaky `test_broken_rules_are_reported_while_the_daemon_keeps_polling` came from here:
the daemon's sync jobs (rules reload writing meta, retention) ran in APScheduler's
threads on the event loop's one connection, and `Store.transaction()` joined whatever
transaction was open, so a prune and a feed's save could merge, commit each other's
writes, or collide on BEGIN ("cannot start a transaction within a transaction").
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from monitor.daemon.jobs import JobRunner
from monitor.store.sqlite import Store, TransactionConflict, iso, now_utc


@pytest.fixture
def store(state_target):
    """Each test below runs on both backends (SQLite file, PostgreSQL schema)."""
    s = state_target.open()
    yield s
    s.close()


def feeds(store: Store) -> list[str]:
    return [r["url"] for r in store.rows("SELECT url FROM feeds ORDER BY url")]


def add_feed(store: Store, url: str) -> None:
    store.db.execute("INSERT INTO feeds (url, added) VALUES (?, ?)", [url, iso(now_utc())])


def test_a_connection_is_refused_to_other_threads(tmp_path):
    store = Store(tmp_path / "m.db")            # SQLite binds a connection to its thread
    errors: list[BaseException] = []

    def other_job() -> None:
        try:
            store.set_meta("x", 1)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=other_job)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], sqlite3.ProgrammingError)
    assert store.get_meta("x") is None
    store.close()


def test_postgres_refuses_another_thread_inside_an_open_unit_of_work(pg_url):
    from monitor.store.postgres import PgStore
    store = PgStore(pg_url)
    errors: list[BaseException] = []

    def other_job() -> None:
        try:
            store.set_meta("x", 1)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    with store.transaction():
        add_feed(store, "https://a/feed")
        t = threading.Thread(target=other_job)
        t.start()
        t.join()
    assert len(errors) == 1 and isinstance(errors[0], TransactionConflict)
    assert store.get_meta("x") is None and feeds(store) == ["https://a/feed"]
    other_job()                                  # outside the unit of work it borrows its own connection
    assert store.get_meta("x")[0] == 1
    store.close()


def test_a_transaction_cannot_be_joined_by_another_task(store):
    async def main() -> tuple[BaseException | None, list[str]]:
        entered = asyncio.Event()
        release = asyncio.Event()
        seen: list[BaseException | None] = [None]

        async def poll_job() -> None:
            with store.transaction():
                add_feed(store, "https://a/feed")
                entered.set()
                await release.wait()          # a unit of work must not await; here it does, on purpose

        async def other_job() -> None:
            await entered.wait()
            try:
                with store.transaction():
                    add_feed(store, "https://b/feed")
            except TransactionConflict as exc:
                seen[0] = exc
            release.set()

        await asyncio.gather(poll_job(), other_job())
        return seen[0], feeds(store)

    error, urls = asyncio.run(main())
    assert isinstance(error, TransactionConflict)
    assert urls == ["https://a/feed"]            # the other job's write did not ride along


def test_nested_transaction_of_one_job_is_a_savepoint(store):
    with store.transaction():
        add_feed(store, "https://a/feed")
        with pytest.raises(ValueError):
            with store.transaction():
                add_feed(store, "https://b/feed")
                raise ValueError("inner unit fails")
        add_feed(store, "https://c/feed")
    assert feeds(store) == ["https://a/feed", "https://c/feed"]


def test_sessions_are_separate_connections_that_see_committed_work(store):
    with store.session() as one, store.session() as two:
        assert one is not two is not store
        if store.dialect == "sqlite":
            assert one.db.conn is not two.db.conn is not store.db.conn
        with one.transaction():
            add_feed(one, "https://a/feed")
            if store.dialect == "postgresql":
                assert one.db.conn is not None and two.db.conn is None     # held only in the unit of work
            assert feeds(two) == []              # not committed yet: invisible to the other session
        assert feeds(two) == ["https://a/feed"]


def test_runner_isolates_failures_deadlines_and_duplicates():
    async def main() -> dict:
        runner = JobRunner()
        ran: list[str] = []

        async def ok() -> None:
            await asyncio.sleep(0.05)
            ran.append("ok")

        async def broken() -> None:
            raise RuntimeError("a bug in one job")

        async def stuck() -> None:
            await asyncio.sleep(60)

        first = runner.start("feed:a", ok)
        second = runner.start("feed:a", ok)       # same name while running: not doubled
        runner.start("feed:b", broken)
        runner.start("feed:c", stuck, deadline=0.2)
        assert first is not None and second is None
        await asyncio.sleep(0.5)
        running_after = dict(runner.running)
        slow = runner.start("chore", stuck)
        cancelled = await runner.drain(grace=0.2)
        return {"ran": ran, "failures": runner.failures, "running_after": running_after,
                "cancelled": cancelled, "slow_cancelled": slow is not None and slow.cancelled(),
                "after_stop": runner.start("feed:d", ok)}

    out = asyncio.run(main())
    assert out["ran"] == ["ok"]
    assert out["failures"] == 1
    assert out["running_after"] == {}             # the stuck one was stopped at its deadline
    assert out["cancelled"] == 1 and out["slow_cancelled"]
    assert out["after_stop"] is None              # nothing starts once stopping
