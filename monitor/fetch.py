"""The httpx client (first version)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from monitor.errors import FetchError


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    body: bytes = b""
    headers: dict | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    moved_to: str | None = None
    retry_after: float | None = None
    max_age: float | None = None
    content_type: str = ""
    elapsed: float = 0.0


class Fetcher:
    def __init__(self, settings):
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=settings.timeout_seconds, follow_redirects=True,
                                        headers={"User-Agent": settings.user_agent})

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.client.aclose()

    async def fetch_feed(self, url, etag=None, last_modified=None) -> FetchResult:
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        return await self._get(url, headers)

    async def fetch_page(self, url) -> FetchResult:
        return await self._get(url, {})

    async def _get(self, url, headers) -> FetchResult:
        try:
            r = await self.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(str(exc) or type(exc).__name__) from None
        return FetchResult(str(r.url), r.status_code, r.content, dict(r.headers), r.headers.get("etag"),
                           r.headers.get("last-modified"), r.status_code == 304,
                           content_type=r.headers.get("content-type", ""))
