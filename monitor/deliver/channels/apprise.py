"""The apprise channel: the digest as a notification to any of Apprise's 100+ services.

Apprise URLs carry credentials (bot tokens, webhook keys), so they come only from the
environment variable named by `urls_env` (several URLs separated by spaces or commas),
never from the YAML. The body is the plain-text digest; the title is its subject.
Apprise reports one result for all its URLs: any failure is a DeliveryError, so the
outbox retries (services that did receive it may then see it twice). Must not decide
what to send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

from monitor.config.settings import ChannelSettings, Config, secret
from monitor.deliver.channels import register, send_all
from monitor.deliver.digest import Digest, render_text
from monitor.deliver.parts import Prepared
from monitor.errors import DeliveryError


@register("apprise")
class AppriseChannel:
    def __init__(self, settings: ChannelSettings, config: Config):
        self.settings = settings
        self.env = settings.options.get("urls_env", "")

    def _urls(self) -> list[str]:
        value = secret(self.env)
        if not value:
            raise DeliveryError(f"apprise channel {self.settings.name}: environment variable {self.env} is not set")
        return [u for u in re.split(r"[\s,]+", value) if u]

    def prepare(self, digest: Digest, delivery_id: str) -> list[Prepared]:
        body = json.dumps({"title": digest.subject, "body": render_text(digest)}, ensure_ascii=False)
        return [Prepared(digest.outbox_ids, body.encode(), delivery_id, items=len(digest.items))]

    async def send(self, digest: Digest, delivery_id: str) -> None:
        await send_all(self, digest, delivery_id)

    async def deliver(self, part: Prepared, delivery_id: str) -> None:
        message = json.loads(part.payload)
        try:
            import apprise
        except ImportError:
            raise DeliveryError("the apprise channel needs the apprise package: "
                                "pip install 'monitor[apprise]'") from None
        notifier = apprise.Apprise()
        bad = [u for u in self._urls() if not notifier.add(u)]
        if bad:
            raise DeliveryError(f"apprise channel {self.settings.name}: {len(bad)} URL(s) Apprise cannot read")
        # Apprise's notify is blocking (requests); keep the event loop free.
        ok = await asyncio.to_thread(notifier.notify, body=message["body"], title=message["title"],
                                     body_format=apprise.NotifyFormat.TEXT)
        if not ok:
            raise DeliveryError(f"apprise channel {self.settings.name}: a service did not accept the digest "
                                f"(delivery {delivery_id})")


logging.getLogger("apprise").setLevel(logging.WARNING)
