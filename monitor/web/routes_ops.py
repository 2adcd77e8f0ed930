"""Pages for operations: /healthz, /metrics, feeds and channels with their deliveries, "retry now".

Owns these routes and their form handling; queries come from queries.py, writes from
actions.py, health and gauges from ops.py, each run off the event loop. Channel
settings are shown by name, type and schedule only: their options hold addresses and
credentials. Must not hold SQL.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor.web import actions, ops, queries
from monitor.web.app import render
from monitor.web.db import off_loop, reading, writing
from monitor.web.security import checked_form


def _silence(request: Request) -> float:
    cfg = request.app.state.config
    return max(300.0, 5.0 * cfg.fetch.check_interval_seconds)


async def healthz(request: Request) -> Response:
    ok, why = await off_loop(ops.healthy, request.app.state.target, _silence(request))
    return PlainTextResponse(why + "\n", status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    body = await off_loop(ops.metrics_text, request.app.state.target)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


async def feeds_page(request: Request) -> Response:
    def load() -> list[dict]:
        with reading(request.app.state.target) as conn:
            return queries.feeds(conn)
    return render(request, "feeds.html", feeds=await off_loop(load))


async def channels_page(request: Request) -> Response:
    def load() -> tuple[dict, dict]:
        with reading(request.app.state.target) as conn:
            return queries.deliveries(conn), queries.channel_backlog(conn)
    groups, backlog = await off_loop(load)
    cfg = request.app.state.config
    channels = [{"name": ch.name, "type": ch.type, "schedule": ch.schedule, **backlog.get(ch.name, {})}
                for ch in cfg.channels]
    return render(request, "channels.html", channels=channels, groups=groups,
                  retried=request.query_params.get("retried", ""))


async def retry(request: Request) -> Response:
    await checked_form(request)
    delivery_id = request.path_params["delivery_id"]

    def go() -> bool:
        with writing(request.app.state.target) as conn:
            return actions.retry_delivery(conn, delivery_id)
    if not await off_loop(go):
        raise HTTPException(404, "no such delivery waiting or failed (it may have been sent meanwhile)")
    wake = getattr(request.app.state, "wake", None)
    if wake is not None:
        wake()
    return RedirectResponse(f"/channels?retried={delivery_id}", status_code=303)


routes = [
    Route("/healthz", healthz),
    Route("/metrics", metrics),
    Route("/feeds", feeds_page),
    Route("/channels", channels_page),
    Route("/deliveries/{delivery_id}/retry", retry, methods=["POST"]),
]
