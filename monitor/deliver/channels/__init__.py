"""Channels: where digests go. One small interface and a registry keyed by config `type`.

A channel turns a `Digest` and a delivery id into the messages it will send (`prepare`:
one or more `Prepared` parts, each within the service's limits, decided once and saved by
delivery.py), then sends one part at a time (`deliver`), returning only when the far end
has accepted it; any failure is raised as `DeliveryError` so the outbox retries that part
with the same bytes and idempotency key. `send` does both, for one-off use.
Must not decide what to send or when (that is delivery.py) and must not touch the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from monitor.config.settings import ChannelSettings, Config
from monitor.deliver.digest import Digest
from monitor.deliver.parts import Prepared


class Channel(Protocol):
    settings: ChannelSettings

    def prepare(self, digest: Digest, delivery_id: str) -> list[Prepared]:
        """The messages that carry this digest, in order, each within the service's limits."""

    async def deliver(self, part: Prepared, delivery_id: str) -> None:
        """Send one prepared message; raise DeliveryError unless the receiver confirmed it."""

    async def send(self, digest: Digest, delivery_id: str) -> None:
        """prepare + deliver every part in order."""


async def send_all(channel: Channel, digest: Digest, delivery_id: str) -> None:
    for part in channel.prepare(digest, delivery_id):
        await channel.deliver(part, delivery_id)


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
