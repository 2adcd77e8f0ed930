"""The rule tester: a draft query or an edited rule, its backtest, a pasted text or URL, saving.

Owns /tester (GET: the form, and with a query the draft's errors, YAML and a backtest
streamed as it runs), /tester/live (the same lower half alone, which static/tester.js
requests as the analyst types and puts in place chunk by chunk), /tester/check (POST: the draft on pasted text or on a page
fetched through the daemon's guarded client) and /tester/save (POST: write the rule
file when `http.rules_writable`, else show the YAML to paste). The logic is in
tester.py. Must not hold SQL.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.deliver.digest import highlight, snippet
from monitor.errors import MonitorError
from monitor.web import actions, queries, tester
from monitor.web.app import render
from monitor.web.db import off_loop, reading
from monitor.web.security import checked_form
from monitor.web.streaming import from_store, stream

MAX_TEXT = 200_000


def _days(value: str, default: int) -> int:
    try:
        days = int(value or default)
    except ValueError:
        raise HTTPException(400, "days must be a number") from None
    if not 1 <= days <= 3650:
        raise HTTPException(400, "days must be between 1 and 3650")
    return days


async def _draft(request: Request, form) -> tuple[tester.Draft, object, list[str]]:
    ruleset, errors = await off_loop(request.app.state.rules.get)
    base = None
    if ruleset and form.get("rule"):
        base = next((r for r in ruleset.rules if r.id == form.get("rule")), None)
    fields = tester.fields_from(form if form.get("query") or base is None else {}, base)
    draft = await off_loop(tester.build, fields, ruleset.entities if ruleset else {})
    return draft, ruleset, errors


def _with_segments(row: dict) -> dict:
    row["title_segments"] = highlight(row["title"] or "(no title)", [h for h in row["hits"] if h["field"] == "title"])
    row["snippet"] = snippet(row, row["hits"])
    return row


async def tester_page(request: Request) -> Response:
    return await _tester(request, "tester.html")


async def live_page(request: Request) -> Response:
    """The tester's lower half alone, streamed: what static/tester.js puts in place as the analyst types."""
    return await _tester(request, "_tester_body.html")


async def _tester(request: Request, template: str) -> Response:
    q = request.query_params
    cfg = request.app.state.config
    days = _days(q.get("days", ""), cfg.http.backtest_days)
    if not q.get("query") and not q.get("rule"):
        return render(request, template, draft=None, days=days, results=None, progress=None, rejected=[],
                      yaml_text="", check=None, writable=cfg.http.rules_writable, saved="")
    draft, _, _ = await _draft(request, q)
    if draft.ruleset is None:
        return render(request, template, draft=draft, days=days, results=None, progress=None, rejected=[],
                      yaml_text=tester.rule_yaml(draft.fields), check=None, writable=cfg.http.rules_writable,
                      saved="")
    ruleset, rule_id = draft.ruleset, draft.rule_id

    def load_rejected():
        with reading(request.app.state.target) as conn:
            rej = actions.rejected(conn, rule_id)
            return rej, tester.rejected_still_matching(conn, ruleset, rule_id, rej)
    rejected, rejected_rows = await off_loop(load_rejected)
    progress = tester.Progress()
    since = queries.days_ago(days)
    results = (_with_segments(r) for r in from_store(request.app.state.target, lambda conn: tester.backtest(
        conn, ruleset, rule_id, since, cfg.http.backtest_seconds, rejected, progress=progress)))
    return stream(request, template, draft=draft, days=days, results=results, progress=progress,
                  rejected=rejected_rows, yaml_text=tester.rule_yaml(draft.fields), check=None,
                  writable=cfg.http.rules_writable, saved="", budget=cfg.http.backtest_seconds)


async def check_page(request: Request) -> Response:
    form = await checked_form(request)
    cfg = request.app.state.config
    days = _days(str(form.get("days") or ""), cfg.http.backtest_days)
    draft, _, _ = await _draft(request, form)
    check: dict[str, Any] | None = None
    if draft.ruleset is not None:
        url = str(form.get("url") or "").strip()
        title, text = str(form.get("title") or ""), str(form.get("text") or "")[:MAX_TEXT]
        if url:
            try:
                title, text, url = await off_loop(_fetch, url, cfg)
            except MonitorError as exc:
                check = {"error": f"cannot fetch {url}: {exc}"}
            except Exception as exc:  # noqa: BLE001 - any unreadable page is reported, never a 500
                check = {"error": f"cannot read {url}: {type(exc).__name__}: {exc}"}
        if check is None:
            result: dict[str, Any] = await off_loop(tester.check_text, draft.ruleset, draft.rule_id, title, text, url)
            result["segments"] = highlight(text, [h for h in result["hits"] if h["field"] == "text"])
            result["title_segments"] = highlight(title, [h for h in result["hits"] if h["field"] == "title"])
            check = result
    return render(request, "tester.html", draft=draft, days=days, results=None, progress=None, rejected=[],
                  yaml_text=tester.rule_yaml(draft.fields), check=check, writable=cfg.http.rules_writable, saved="")


def _fetch(url: str, cfg) -> tuple[str, str, str]:
    """The page through the daemon's guarded client (address guard, caps, robots.txt), extracted."""
    from monitor.extract.article import extract
    from monitor.ingest.fetch import fetch_page_blocking
    page = fetch_page_blocking(url, cfg.fetch)
    ex = extract(page.body, page.url)
    return ex.title, ex.text, page.url


async def save_page(request: Request) -> Response:
    form = await checked_form(request)
    cfg = request.app.state.config
    draft, ruleset, _ = await _draft(request, form)
    saved, status = "", 200
    if draft.ruleset is not None and cfg.http.rules_writable:
        try:
            path = await off_loop(tester.write_rule, cfg.rules_path, draft.fields, ruleset)
            saved = f"written to {path.name}; the daemon picks it up within seconds"
        except ValueError as exc:
            draft.errors.append(str(exc))
            status = 400
    elif draft.ruleset is not None:
        saved = "writing rule files is off (http.rules_writable): paste this YAML into a file under rules/"
    return render(request, "tester.html", status=status, draft=draft, days=cfg.http.backtest_days, results=None,
                  progress=None, rejected=[], yaml_text=tester.rule_yaml(draft.fields), check=None,
                  writable=cfg.http.rules_writable, saved=saved)


routes = [
    Route("/tester", tester_page),
    Route("/tester/live", live_page),
    Route("/tester/check", check_page, methods=["POST"]),
    Route("/tester/save", save_page, methods=["POST"]),
]
