"""The webhook channel: POST the digest as JSON, signed, with an idempotency key per message.

Owns the HTTP side: `X-Monitor-Signature: sha256=<hex HMAC-SHA256 of the body>` when
`secret_env` names a set variable, `Idempotency-Key` (the delivery id, or `<id>.<n>` for
part n of a split digest) and `X-Monitor-Delivery` (the delivery id); `timeout_seconds` as
a deadline on the whole request (connect, headers, body), not per read. 429 and 503 answers
carry their `Retry-After` (seconds or an HTTP date) in the DeliveryError, so the outbox waits
as long as the service asked. The payload formats live in monitor/deliver/formats/.
Any non-2xx answer, timeout or connection error is a DeliveryError. Must not decide what to send.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from monitor.config.settings import ChannelSettings, Config, secret
from monitor.deliver.channels import register, send_all
from monitor.deliver.digest import Digest
from monitor.deliver.formats import formats
from monitor.deliver.parts import Prepared, part_key, split
from monitor.errors import DeliveryError
from monitor.redact import redact_url, scrub

USER_AGENT = "monitor/0.1 (digest webhook)"


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def payload(d: Digest, fmt: str) -> bytes:
    """The whole digest in one message of format `fmt` (unsplit; see WebhookChannel.prepare)."""
    return encode(formats()[fmt].render(d))


def retry_after(resp: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the service asked us to wait (Retry-After as seconds or HTTP date; Discord's JSON
    `retry_after`), or None when it did not say."""
    value = resp.headers.get("Retry-After", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    try:
        body = resp.json()
        return max(0.0, float(body["retry_after"])) if isinstance(body, dict) and "retry_after" in body else None
    except (ValueError, TypeError, KeyError):
        return None


@register("webhook")
class WebhookChannel:
    def __init__(self, settings: ChannelSettings, config: Config):
        o = settings.options
        self.settings = settings
        self.url_env = o.get("url_env")
        self.url = str(o["url"]) if o.get("url") else ""
        self.format = str(o.get("format", "json"))
        self.secret_env = o.get("secret_env")
        self.timeout = float(o.get("timeout_seconds", 15))
        self.headers = {str(k): str(v) for k, v in (o.get("headers") or {}).items()}
        self.where = f"POST {redact_url(self.url)}" if self.url else "POST"   # the path may hold a token

    def _target(self) -> str:
        """The URL, from the config or from the variable `url_env` names (read at every send)."""
        url = self.url or secret(self.url_env) or ""
        if not url:
            raise DeliveryError(f"webhook channel {self.settings.name}: environment variable "
                                f"{self.url_env} is not set")
        self.where = f"POST {redact_url(url)}"
        return url

    def prepare(self, digest: Digest, delivery_id: str) -> list[Prepared]:
        fmt = formats()[self.format]
        pieces = split(replace(digest, delivery_id=delivery_id), fmt.render, fmt.fits)
        return [Prepared(sub.outbox_ids, encode(body), part_key(delivery_id, n, len(pieces)), sub.part_label,
                         len(sub.items))
                for n, (sub, body) in enumerate(pieces, 1)]

    async def deliver(self, part: Prepared, delivery_id: str) -> None:
        headers = {**self.headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "Idempotency-Key": part.key, "X-Monitor-Delivery": delivery_id}
        key = secret(self.secret_env)
        if key:
            headers["X-Monitor-Signature"] = sign(part.payload, key)
        url = self._target()
        try:
            async with asyncio.timeout(self.timeout):
                async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                    resp = await client.post(url, content=part.payload, headers=headers)
        except TimeoutError as exc:
            raise DeliveryError(f"{self.settings.name}: {self.where}: no complete answer within "
                                f"{self.timeout:g}s") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}", [url])     # never the URL itself
            raise DeliveryError(f"{self.settings.name}: {self.where}: {detail}") from None
        if not resp.is_success:
            wait = retry_after(resp) if resp.status_code in (429, 503) else None
            raise DeliveryError(f"{self.settings.name}: {self.where}: HTTP {resp.status_code}"
                                + (f", retry after {wait:g}s" if wait is not None else ""), retry_after=wait)

    async def send(self, digest: Digest, delivery_id: str) -> None:
        await send_all(self, digest, delivery_id)
