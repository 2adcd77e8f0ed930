"""The rules pages: every rule with its chart, last match, snooze and errors; snoozing a rule.

Owns /rules, /rules/ID and the snooze form. The rules come from the app's RuleWatcher
(the set on disk, with its current errors); the counts from queries.rule_stats; the
chart from sparkline.py. Must not hold SQL.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.web import actions, queries
from monitor.web.app import render
from monitor.web.db import off_loop, reading, writing
from monitor.web.security import checked_form
from monitor.web.sparkline import sparkline

DAYS = 30


def _rule_view(rule, per_day: dict, last: dict, snoozed: dict, default_channels) -> dict:
    return {"id": rule.id, "title": rule.title, "priority": rule.priority, "query": rule.query,
            "exclude": rule.exclude, "ignore": rule.ignore, "enabled": rule.enabled, "where": rule.where,
            "channels": list(rule.channels) or list(default_channels), "own_channels": bool(rule.channels),
            "tags": list(rule.tags), "languages": list(rule.languages), "feeds": list(rule.feeds),
            "chart": sparkline(per_day.get(rule.id, {}), DAYS), "last_match": last.get(rule.id),
            "snoozed_until": snoozed.get(rule.id)}


async def _load(request: Request):
    ruleset, errors = await off_loop(request.app.state.rules.get)

    def load():
        with reading(request.app.state.target) as conn:
            per_day, last = queries.rule_stats(conn, DAYS)
            return per_day, last, queries.snoozes(conn)
    per_day, last, snoozed = await off_loop(load)
    defaults = request.app.state.config.default_channels
    views = [_rule_view(r, per_day, last, snoozed, defaults) for r in (ruleset.rules if ruleset else ())]
    return views, errors


async def rules_page(request: Request) -> Response:
    views, errors = await _load(request)
    return render(request, "rules.html", rules=views, errors=errors, days=DAYS)


async def rule_page(request: Request) -> Response:
    rule_id = request.path_params["rule_id"]
    views, errors = await _load(request)
    view = next((v for v in views if v["id"] == rule_id), None)
    if view is None:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return render(request, "rule.html", rule=view, errors=errors, days=DAYS)


async def snooze(request: Request) -> Response:
    form = await checked_form(request)
    rule_id = request.path_params["rule_id"]
    try:
        hours = float(str(form.get("hours", "24")))
        if hours != hours:
            raise ValueError
    except ValueError:
        raise HTTPException(400, "hours must be a number") from None

    def go() -> None:
        with writing(request.app.state.target) as conn:
            actions.mute(conn, "rule", rule_id, hours)
    try:
        await off_loop(go)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)


routes = [
    Route("/rules", rules_page),
    Route("/rules/{rule_id}", rule_page),
    Route("/rules/{rule_id}/snooze", snooze, methods=["POST"]),
]
