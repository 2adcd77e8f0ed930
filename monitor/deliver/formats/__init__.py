"""Webhook payload formats: one module per service, each laying a digest out within that
service's documented limits (formats/limits.py) and splitting it into parts when it does not fit.

A format is a `Format(render, fits)` (formats/common.py): `render(digest) -> dict` builds the
payload of one message, every field already within its own limit (titles cut at a word,
links never cut); `fits(payload) -> bool` checks the limits on the whole message (block or
embed count, total characters or bytes). `monitor.deliver.parts.split` packs items into as
few messages as fit. Must not send, nor decide what goes into a delivery.
"""

from __future__ import annotations

from monitor.deliver.formats import discord, jsondoc, mattermost, slack, teams
from monitor.deliver.formats.common import Format

FORMATS: dict[str, Format] = {"json": jsondoc.FORMAT, "slack": slack.FORMAT, "discord": discord.FORMAT,
                              "teams": teams.FORMAT, "teams-legacy": teams.LEGACY,
                              "mattermost": mattermost.FORMAT}


def formats() -> dict[str, Format]:
    return FORMATS
