"""Channels: where digests go. One small interface and a registry keyed by config `type`.

A channel gets a rendered-ready `Digest` and a delivery id, delivers it, and returns only
when the far end has accepted it; any failure is raised as `DeliveryError` so the outbox
retries. The delivery id is the idempotency key: a retry sends the same id again.
Must not decide what to send or when (that is delivery.py) and must not touch the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from monitor.config.settings import ChannelSettings, Config
from monitor.deliver.digest import Digest


class Channel(Protocol):
    settings: ChannelSettings

    async def send(self, digest: Digest, delivery_id: str) -> None:
        """Deliver the digest; raise DeliveryError unless the receiver confirmed it."""


ChannelFactory = Callable[[ChannelSettings, Config], Channel]
REGISTRY: dict[str, ChannelFactory] = {}


def register(kind: str) -> Callable[[ChannelFactory], ChannelFactory]:
    """Class decorator: make a channel available as `type: <kind>` in the config."""
    def deco(factory: ChannelFactory) -> ChannelFactory:
        REGISTRY[kind] = factory
        return factory
    return deco


def make_channel(settings: ChannelSettings, config: Config) -> Channel:
    _load_builtins()
    try:
        factory = REGISTRY[settings.type]
    except KeyError:
        raise ValueError(f"unknown channel type {settings.type!r} (known: {', '.join(sorted(REGISTRY))})") \
            from None
    return factory(settings, config)


def _load_builtins() -> None:
    # Imported lazily so that importing the interface does not pull in smtplib and httpx.
    from monitor.deliver.channels import apprise, email, file, webhook  # noqa: F401
