"""The web interface's ASGI application: Starlette routes, Jinja2 templates, login pages.

Owns assembling the app (`make_app`): the routes of each area (matches, rules, tester,
search, operations, feeds out), the autoescaping template environment and its helpers,
the rule set the pages explain with (its own RuleWatcher on the rules folder, refreshed
at most every few seconds), and /login. Must not hold SQL (queries.py, actions.py) or
page logic of an area (routes_*.py).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.config.settings import Config
from monitor.deliver.digest import safe_href
from monitor.web.security import SESSION_COOKIE, SESSION_SECONDS, Guard, SecurityMiddleware, checked_form

HERE = Path(__file__).parent
RULES_REFRESH_SECONDS = 3.0


class Rules:
    """The rule set as on disk (last valid set, current errors), re-read when files change."""

    def __init__(self, path: Path):
        from monitor.match import RuleWatcher
        self.lock = threading.Lock()
        self.watcher = RuleWatcher(path)
        self.checked = time.monotonic()

    def get(self):
        """(RuleSet or None, errors); call off the event loop (it may stat and parse files)."""
        with self.lock:
            if time.monotonic() - self.checked > RULES_REFRESH_SECONDS:
                self.watcher.refresh()
                self.checked = time.monotonic()
            return self.watcher.current, list(self.watcher.errors)


def _when(value: Any) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return ""
    text = str(value)
    if len(text) == 25 and text.endswith("+00:00") and text[10] == "T":     # as the store writes times
        return f"{text[:10]} {text[11:16]} UTC"
    try:
        t = datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return str(value)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _query(request: Request, **changes: Any) -> str:
    """The current query string with some parameters changed (empty values dropped)."""
    params = dict(request.query_params)
    params.update({k: str(v) for k, v in changes.items()})
    return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["href"] = safe_href
    env.globals["query"] = _query
    return env


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(name).render(**page_context(request), **context)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def page_context(request: Request) -> dict[str, Any]:
    guard: Guard = request.app.state.guard
    return {"request": request, "csrf": guard.csrf_token(request), "login": guard.required,
            "path": request.url.path}


async def login_page(request: Request) -> Response:
    guard: Guard = request.app.state.guard
    if request.method == "POST":
        form = await checked_form(request)
        if guard.accepts(str(form.get("secret") or "")):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(SESSION_COOKIE, guard.session(), max_age=SESSION_SECONDS, httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
            return response
        return render(request, "login.html", status=401, failed=True)
    return render(request, "login.html", failed=False)


async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/login" if request.app.state.guard.required else "/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.endswith((".json", ".atom")) or request.url.path in ("/healthz", "/metrics"):
        return Response(f"{exc.detail}\n", status_code=exc.status_code, media_type="text/plain")
    return render(request, "error.html", status=exc.status_code, status_code=exc.status_code, detail=exc.detail)


def make_app(config: Config, guard: Guard) -> Starlette:
    from monitor.web import (
        routes_feedsout,
        routes_matches,
        routes_ops,
        routes_rules,
        routes_search,
        routes_tester,
    )

    routes = [
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *routes_ops.routes, *routes_matches.routes, *routes_feedsout.routes, *routes_rules.routes,
        *routes_tester.routes, *routes_search.routes,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityMiddleware)],
                    exception_handlers={HTTPException: http_error})
    app.state.config = config
    app.state.guard = guard
    app.state.templates = templates()
    app.state.rules = Rules(config.rules_path)
    from monitor.web.db import target_of
    from monitor.web.search import Indexer
    app.state.target = target_of(config)     # the SQLite file or the PostgreSQL state the pages read
    app.state.indexer = Indexer(app.state.target)
    return app
