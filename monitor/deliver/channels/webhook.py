"""The webhook channel: POST the digest as JSON, signed, with an idempotency key.

Owns the payload formats (`json` = the versioned monitor.digest/1 document; `slack` blocks;
`discord` embeds; `teams` MessageCard; `mattermost` Slack-style text) and the headers:
`X-Monitor-Signature: sha256=<hex HMAC-SHA256 of the body>` when `secret_env` names a set
variable, `Idempotency-Key` and `X-Monitor-Delivery` = the delivery id. Any non-2xx answer,
timeout or connection error is a DeliveryError. Must not decide what to send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

import httpx

from monitor.config.settings import ChannelSettings, Config, secret
from monitor.deliver.channels import register
from monitor.deliver.digest import Digest, DigestItem, local_time, plain, safe_href, to_json
from monitor.errors import DeliveryError
from monitor.redact import redact_url, scrub

USER_AGENT = "monitor/0.1 (digest webhook)"


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _md_line(i: DigestItem, link: str) -> str:
    extra = f" (also: {', '.join(s.source for s in i.also_reported_by)})" if i.also_reported_by else ""
    return f"• {link} - {i.source}{extra}"


def _slack_escape(s: str) -> str:
    # Slack mrkdwn treats these three as control characters; everything else is literal.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(d: Digest) -> dict[str, Any]:
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": d.subject[:150]}}]
    for g in d.groups:
        lines = [_md_line(i, f"<{safe_href(i.url)}|{_slack_escape(i.title)}>") for i in g.items]
        text = f"*{_slack_escape(g.title)}* ({len(g.items)})\n" + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if d.more:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"… and {d.more} more in the next digest"}]})
    return {"text": d.subject, "blocks": blocks[:50]}


def discord(d: Digest) -> dict[str, Any]:
    embeds = [{
        "title": i.title[:256], "url": safe_href(i.url),
        "description": plain(i.snippet)[:4000],
        "footer": {"text": f"{i.source} · {', '.join(i.rules)}"[:2048]},
        **({"timestamp": i.published.isoformat()} if i.published else {}),
        **({"color": 0xDC2626} if i.priority == "high" else {}),
    } for i in d.items[:10]]          # Discord accepts at most 10 embeds per message
    more = len(d.items) - len(embeds) + d.more
    content = d.subject + (f"\n… and {more} more" if more else "")
    return {"content": content[:2000], "embeds": embeds, "allowed_mentions": {"parse": []}}


def markdown(d: Digest) -> str:
    parts = [f"**{d.subject}**"]
    for g in d.groups:
        parts.append(f"\n**{g.title}** ({len(g.items)})")
        parts += [_md_line(i, f"[{i.title}]({safe_href(i.url)})") + (f", {local_time(i.published, d.timezone)}"
                                                       if i.published else "") for i in g.items]
    if d.more:
        parts.append(f"\n… and {d.more} more in the next digest")
    return "\n".join(parts)


def teams(d: Digest) -> dict[str, Any]:
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
            "summary": d.subject, "title": d.subject, "text": markdown(d)}


def mattermost(d: Digest) -> dict[str, Any]:
    return {"text": markdown(d)}


FORMATS = {"json": to_json, "slack": slack, "discord": discord, "teams": teams, "mattermost": mattermost}


def payload(d: Digest, fmt: str) -> bytes:
    return json.dumps(FORMATS[fmt](d), ensure_ascii=False, separators=(",", ":")).encode()


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

    def _target(self) -> str:
        url = self.url or secret(self.url_env) or ""
        if not url:
            raise DeliveryError(f"webhook channel {self.settings.name}: environment variable "
                                f"{self.url_env} is not set")
        return url

    async def send(self, digest: Digest, delivery_id: str) -> None:
        url = self._target()
        shown = redact_url(url)        # the URL is a credential: never in an error, a log or status
        body = payload(replace(digest, delivery_id=delivery_id), self.format)
        headers = {**self.headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "Idempotency-Key": delivery_id, "X-Monitor-Delivery": delivery_id}
        key = secret(self.secret_env)
        if key:
            headers["X-Monitor-Signature"] = sign(body, key)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                resp = await client.post(url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}", [url])
            raise DeliveryError(f"{self.settings.name}: POST {shown}: {detail}") from None
        if not resp.is_success:
            raise DeliveryError(f"{self.settings.name}: POST {shown}: HTTP {resp.status_code}")
