"""Pages that show results as they come: a template rendered chunk by chunk from a generator.

Owns the one way a slow result list (backtest, search) reaches the browser: the
template's loop pulls from a generator that holds its own read connection, Starlette
iterates the rendering in worker threads (never on the event loop), and the browser
paints each chunk as it arrives. Must not know what is being scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from monitor.web.app import page_context
from monitor.web.db import reading

FLUSH_EVERY = 5     # results per chunk sent to the browser


def from_store(state_path: Any, produce: Callable[[Any], Iterator[dict]]) -> Iterator[dict]:
    """The items `produce(conn)` yields, on a read connection that lives as long as the iteration."""
    with reading(state_path) as conn:
        yield from produce(conn)


def _chunks(parts: Iterator[str]) -> Iterator[str]:
    buf: list[str] = []
    for i, part in enumerate(parts):
        buf.append(part)
        if "<!--flush-->" in part or len(buf) > 200 or i % 50 == 0:
            yield "".join(buf)
            buf = []
    if buf:
        yield "".join(buf)


def stream(request: Request, name: str, **context: Any) -> StreamingResponse:
    env = request.app.state.templates
    parts = env.get_template(name).generate(**page_context(request), **context)
    return StreamingResponse(_chunks(parts), media_type="text/html; charset=utf-8",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
