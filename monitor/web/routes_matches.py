"""The analyst's main pages: matches grouped by story, a story, an article; mute and "not relevant".

Owns these routes: reading and bounding the filters (rule, priority, feed tag,
language, dates, page), the snippets with hits highlighted, and the POST forms that
mute a story or mark a match "not relevant". Queries run off the event loop (queries.py,
actions.py). Must not hold SQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.deliver.digest import highlight, snippet
from monitor.web import actions, explain, queries
from monitor.web.app import render
from monitor.web.db import off_loop, reading, writing
from monitor.web.security import checked_form

PRIORITIES = ("high", "normal", "low")
DAY_CHOICES = ("1", "7", "30", "90", "all")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")
MAX_PAGE = 10_000


def _date(value: str, what: str) -> str:
    if not value:
        return ""
    if not DATE.match(value):
        raise HTTPException(400, f"{what} must be a date like 2026-01-31")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat(timespec="seconds")
    except ValueError:
        raise HTTPException(400, f"{what}: no such date {value!r}") from None


def match_filter(request: Request) -> tuple[queries.MatchFilter, str, int]:
    """The page's filter, its look-back choice and its page number, from the query string."""
    q = request.query_params
    priority = q.get("priority", "")
    if priority and priority not in PRIORITIES:
        raise HTTPException(400, f"priority must be one of {', '.join(PRIORITIES)}")
    days = q.get("days", "7")
    if days not in DAY_CHOICES:
        raise HTTPException(400, f"days must be one of {', '.join(DAY_CHOICES)}")
    since = _date(q.get("since", ""), "since")
    until = _date(q.get("until", ""), "until")
    if until:
        until = (datetime.fromisoformat(until) + timedelta(days=1)).isoformat(timespec="seconds")
    if not since and days != "all":
        since = queries.days_ago(int(days))
    try:
        page = int(q.get("page", "1"))
    except ValueError:
        raise HTTPException(400, "page must be a number") from None
    if not 1 <= page <= MAX_PAGE:
        raise HTTPException(400, f"page must be between 1 and {MAX_PAGE}")
    f = queries.MatchFilter(rule=q.get("rule", "")[:100], priority=priority, tag=q.get("tag", "")[:100],
                            language=q.get("lang", "")[:10], since=since, until=until)
    return f, days, page


async def matches_page(request: Request) -> Response:
    f, days, page = match_filter(request)
    size = request.app.state.config.http.page_size
    state_path = request.app.state.target

    def load():
        with reading(state_path) as conn:
            stories, more = queries.match_stories(conn, f, size, (page - 1) * size)
            return stories, more, queries.facets(conn)
    stories, more, facets = await off_loop(load)
    ruleset, errors = await off_loop(request.app.state.rules.get)
    for s in stories:
        lead = s["lead"]
        hits = [h for m in lead["matches"] for h in m["hits"]]
        s["title_segments"] = highlight(lead["title"] or "(no title)", [h for h in hits if h["field"] == "title"])
        s["snippet"] = snippet(lead, hits)
    rule_ids = [r.id for r in ruleset.rules] if ruleset else []
    return render(request, "matches.html", stories=stories, more=more, page=page, f=f, days=days,
                  rule_ids=rule_ids, facets=facets, priorities=PRIORITIES, day_choices=DAY_CHOICES,
                  rule_errors=errors)


def _int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError:
        raise HTTPException(404, "not found") from None


async def story_page(request: Request) -> Response:
    story_id = _int(request, "story_id")

    def load():
        with reading(request.app.state.target) as conn:
            return queries.story(conn, story_id)
    story = await off_loop(load)
    if story is None:
        raise HTTPException(404, f"no story {story_id}")
    return render(request, "story.html", story=story)


async def article_page(request: Request) -> Response:
    article_id = _int(request, "article_id")

    def load():
        with reading(request.app.state.target) as conn:
            art = queries.article(conn, article_id)
        if art is None:
            return None, [], [], {}
        ruleset, _ = request.app.state.rules.get()
        fired, others = explain.explain(ruleset, art, {m["rule"] for m in art["matches"]})
        # the decisive hits of every rule that fires now; a rule that fired when stored but
        # no longer does shows the hits it had then
        firing_now = {e["rule"] for e in fired if e["fires"]}
        hit_lists = [e["hits"] for e in fired if e["fires"]] + \
            [m["hits"] for m in art["matches"] if m["rule"] not in firing_now]
        return art, fired, others, explain.segments(art, hit_lists)
    art, fired, others, segs = await off_loop(load)
    if art is None:
        raise HTTPException(404, f"no article {article_id}")
    verdicts = {m["rule"]: m["verdict"] for m in art["matches"]}
    return render(request, "article.html", art=art, fired=fired, others=others, parts=segs, verdicts=verdicts)


async def mute_story(request: Request) -> Response:
    form = await checked_form(request)
    story_id = _int(request, "story_id")
    try:
        hours = float(str(form.get("hours", "24")))
        if hours != hours:   # NaN
            raise ValueError
    except ValueError:
        raise HTTPException(400, "hours must be a number") from None

    def go() -> None:
        with writing(request.app.state.target) as conn:
            actions.mute(conn, "story", str(story_id), hours)
    try:
        await off_loop(go)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/stories/{story_id}", status_code=303)


async def feedback(request: Request) -> Response:
    form = await checked_form(request)
    article_id = _int(request, "article_id")
    rule = str(form.get("rule", ""))[:100]
    verdict = str(form.get("verdict", "")) or None

    def go() -> None:
        with writing(request.app.state.target) as conn:
            actions.set_feedback(conn, article_id, rule, verdict)
    try:
        await off_loop(go)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/articles/{article_id}", status_code=303)


routes = [
    Route("/", matches_page),
    Route("/stories/{story_id}", story_page),
    Route("/stories/{story_id}/mute", mute_story, methods=["POST"]),
    Route("/articles/{article_id}", article_page),
    Route("/articles/{article_id}/feedback", feedback, methods=["POST"]),
]
