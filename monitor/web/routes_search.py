"""Search over stored articles with the rule language: FTS5 prefilter, exact evaluation, streamed.

Owns /search: the query becomes a draft rule (so the syntax, entities and errors are
the rule language's own), candidates come from the search index (search.py) newest
first, each is evaluated exactly, and results stream with a time budget and a count
of what was scanned. Must not hold SQL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.web import queries, tester
from monitor.web.app import render
from monitor.web.db import off_loop
from monitor.web.routes_tester import _days, _with_segments
from monitor.web.streaming import from_store, stream


async def search_page(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()[:2000]
    cfg = request.app.state.config
    days = _days(request.query_params.get("days", ""), 30)
    if not q:
        return render(request, "search.html", q="", days=days, errors=[], results=None, progress=None)
    ruleset, _ = await off_loop(request.app.state.rules.get)
    draft = await off_loop(tester.build, {"id": "search", "query": q}, ruleset.entities if ruleset else {})
    if draft.ruleset is None:
        return render(request, "search.html", q=q, days=days, errors=draft.errors, results=None, progress=None)
    await off_loop(request.app.state.indexer.run_once, 0.5, False)
    progress = tester.Progress()
    since = queries.days_ago(days)
    found = draft.ruleset
    results = (_with_segments(r) for r in from_store(request.app.state.target, lambda conn: tester.backtest(
        conn, found, "search", since, cfg.http.backtest_seconds, {}, progress=progress)))
    return stream(request, "search.html", q=q, days=days, errors=[], results=results, progress=progress,
                  budget=cfg.http.backtest_seconds)


routes = [Route("/search", search_page)]
