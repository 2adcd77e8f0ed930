"""ExtractorPool with real worker processes: same result as in-process, crash and timeout isolation."""

from __future__ import annotations

import asyncio
import os
import time

from monitor.extract.article import extract
from monitor.extract.pool import ExtractorPool
from monitor.models import Extracted

PAGE = ("<html lang='en'><head><title>Pool page</title>"
        "<link rel='canonical' href='/story/1'></head><body><article><h1>Pool page</h1><p>"
        + "Workers extract this article in another process and send the record back. " * 10
        + "</p></article></body></html>")


def crash_on_marker(html: str, url: str) -> Extracted:
    """Worker function for the tests: dies like a segfaulting C extension on marked pages."""
    if "CRASH" in html:
        os._exit(1)
    return extract(html, url)


def hang_on_marker(html: str, url: str) -> Extracted:
    if "HANG" in html:
        while True:  # pure Python: the in-worker alarm interrupts it
            time.sleep(0.05)
    return extract(html, url)


def test_pool_gives_the_same_record_as_in_process_extraction():
    async def run():
        with ExtractorPool(workers=2) as pool:
            results = await asyncio.gather(*(pool.extract(PAGE, f"https://ex.org/p/{i}") for i in range(6)))
        return results

    results = asyncio.run(run())
    assert results[3] == extract(PAGE, "https://ex.org/p/3")
    assert results[3].canonical_url == "https://ex.org/story/1"
    assert all("another process" in r.text for r in results)


def test_worker_crash_gives_empty_record_and_pool_keeps_working():
    async def run():
        with ExtractorPool(workers=1, fn=crash_on_marker) as pool:
            crashed = await pool.extract("<html><body>CRASH</body></html>", "https://ex.org/bad")
            after = await asyncio.gather(*(pool.extract(PAGE, "https://ex.org/good") for _ in range(3)))
            return crashed, after, pool.crashes

    crashed, after, crashes = asyncio.run(run())
    assert crashed == Extracted()
    assert crashes == 1
    assert all("another process" in r.text for r in after)


def test_page_over_time_limit_gives_empty_record_and_others_complete():
    async def run():
        with ExtractorPool(workers=2, timeout=1.0, fn=hang_on_marker) as pool:
            return await asyncio.gather(pool.extract("<p>HANG</p>", "https://ex.org/slow"),
                                        pool.extract(PAGE, "https://ex.org/ok")), pool.timeouts

    (slow, ok), timeouts = asyncio.run(run())
    assert slow == Extracted()
    assert timeouts == 1
    assert "another process" in ok.text


def test_closed_pool_refuses_work_and_worker_count_defaults_to_cores():
    pool = ExtractorPool()
    assert pool.workers == (os.cpu_count() or 1)
    pool.close()
    try:
        asyncio.run(pool.extract(PAGE))
    except RuntimeError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed pool accepted work")


def test_call_runs_any_module_function_and_passes_its_errors_back():
    from monitor.errors import FeedParseError
    from monitor.ingest.feeds import parse_feed
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>g1</guid>'
           b"<title>One</title><link>https://a.example/1</link></item></channel></rss>")
    with ExtractorPool(workers=1) as pool:
        parsed = asyncio.run(pool.call(parse_feed, rss, "https://a.example/feed", "", 10))
        assert [e.guid for e in parsed.entries] == ["g1"]
        try:
            asyncio.run(pool.call(parse_feed, b"<html><body>not a feed</body></html>", "https://a.example/", "", 10))
        except FeedParseError:
            pass
        else:
            raise AssertionError("a parse error must reach the caller")


def sleep_then_name(seconds: float, name: str) -> str:
    time.sleep(seconds)
    return name


def test_units_waiting_for_a_worker_go_earliest_deadline_first():
    """With the one worker busy, queued units start by their job's deadline, not by arrival; a unit
    given without a deadline waits by the time it was given (ahead of deadlines later than that)."""
    from monitor.extract.pool import by_deadline

    async def run() -> list[str]:
        started: list[str] = []
        with ExtractorPool(workers=1) as pool:
            await pool.call(sleep_then_name, 0, "warm")     # the worker exists: the next call holds it

            async def unit(name: str, deadline: float | None) -> None:
                if deadline is None:
                    started.append(await pool.call(sleep_then_name, 0, name))
                    return
                with by_deadline(deadline):
                    started.append(await pool.call(sleep_then_name, 0, name))
            now = time.monotonic()
            busy = asyncio.ensure_future(pool.call(sleep_then_name, 0.5, "busy"))
            await asyncio.sleep(0.1)
            late = asyncio.ensure_future(unit("late", now + 60))
            await asyncio.sleep(0.02)
            early = asyncio.ensure_future(unit("early", now + 30))
            await asyncio.sleep(0.02)
            plain = asyncio.ensure_future(unit("plain", None))      # waits by now (< now + 30)
            await asyncio.gather(busy, late, early, plain)
        return started

    assert asyncio.run(run()) == ["plain", "early", "late"]
